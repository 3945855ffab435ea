"""The till's screens, one per file. Each orchestrates one flow: it reads the fields, calls the
service through the app's runner, and shows the answer or the one sentence of a refusal."""
