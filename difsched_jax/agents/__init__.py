"""Policies behind one interface: act(policy_params, key, obs) -> r."""
