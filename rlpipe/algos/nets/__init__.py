"""Networks: MLPs, BatchRenorm, the Nature CNN, and the policy heads built from them."""
