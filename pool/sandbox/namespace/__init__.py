"""The namespace sandbox driver: bubblewrap namespaces, cgroups and seccomp, no daemon."""
