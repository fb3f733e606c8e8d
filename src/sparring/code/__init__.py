"""Code evaluation: sandboxed execution of candidate programs and the pass@k estimator."""
