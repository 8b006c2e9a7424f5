"""The finance web console (skeleton): one page over the cluster's finance APIs."""
