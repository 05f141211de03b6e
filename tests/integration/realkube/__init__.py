"""The real-apiserver tier: dnssync against etcd + kube-apiserver with the shipped RBAC."""
