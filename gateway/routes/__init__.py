"""API gateway routes: the `whisk.system/apimgmt` actions and the serving of managed URLs."""
