"""The till's widgets, one per file: they show what they are given and post messages; the
screens call the service."""
