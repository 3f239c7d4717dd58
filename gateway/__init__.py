"""The HTTP edge of Patchbay: app factory, settings, authentication, request ids, CLI."""
