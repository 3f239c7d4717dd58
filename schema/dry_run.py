"""What the dryRun argument of every update mutation promises."""

DRY_RUN = (
    "Check everything (input, id, owner, upload, version, and name or slug uniqueness, by "
    "running the write and rolling it back) and answer what the update would return now, "
    "without storing anything: success items say written: false."
)
