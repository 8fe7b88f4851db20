"""Entity semantics without HTTP: actions, packages, triggers, rules, names, namespaces, auth."""
