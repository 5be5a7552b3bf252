"""`artreg verify`: `clone` checks a registry's work tree, history and data (`verify_registry`);
`url` checks a registry read without a clone (a URL, a lock file) with the same checks, run over
the consumer cache's copy of its committed state. One service in two modules: `url` calls
`clone`'s checks rather than copying them. Imports what any service may (layers below services)."""
