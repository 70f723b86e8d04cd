-- examples/site/orrery.site.lua - a site configuration for a cluster.
--
-- Copy it to one of the places orrery looks (first match wins):
--   --site FILE, $ORRERY_SITE, ./orrery.site.lua,
--   $XDG_CONFIG_HOME/orrery/site.lua (~/.config), /etc/orrery/site.lua
-- and check the result with:   orrery config show
--
-- This is Lua run in a sandbox: no io, os, require, debug or package;
-- env("NAME") reads an environment variable.  Every key is optional:
-- what is left out keeps its default (see docs/configuration.md).
--
-- The slurm, s3 and prometheus backends arrive with their plugins; until
-- then `orrery config show` accepts this file and prints it, and selecting
-- them fails with "unknown backend" when something needs them.

-- Helpers must be `local`: any other global is taken as a configuration
-- key, and unknown keys are errors.
local scratch = env("ORRERY_SCRATCH", "/scratch/orrery")

-- The site directory (metadata database, local state).  Relative paths
-- resolve against the directory orrery runs in; this one is shared by
-- every node of the cluster.
root = scratch .. "/site"

-- Plugin directories searched before $ORRERY_PLUGIN_PATH and the
-- install directory; relative entries resolve against this file's
-- directory.
plugin_path = { "/opt/orrery/plugins", "plugins" }

-- error | warn | info | debug ($ORRERY_LOG, when set, wins).
log_level = "info"

-- Artifacts: datasets, models, reports, content-addressed by SHA-256.
storage = {
    backend    = "s3",
    endpoint   = "https://s3.eu-central-1.amazonaws.com",
    region     = "eu-central-1",
    bucket     = "acme-ml-artifacts",
    prefix     = "orrery/",
    -- Credentials come from the environment, never from the file: values
    -- read with env() are secrets, masked as **** by `orrery config show`
    -- and never logged.  Keys named like secret/password/token/key are
    -- masked too, whatever their value.
    access_key = env("AWS_ACCESS_KEY_ID"),
    secret_key = env("AWS_SECRET_ACCESS_KEY"),
}

-- The metadata store (SQLite).  Default: <root>/orrery.db.  Keep it on a
-- file system with working locks; remote workers can instead reach it
-- through `orrery server`.
metadata = {
    path = scratch .. "/site/orrery.db",
}

-- Where workflow steps run: each step becomes an `sbatch` job.
orchestrator = {
    backend   = "slurm",
    partition = "gpu",
    account   = "ml-team",
    time      = "02:00:00",       -- default per-step limit
    -- Extra arguments for every sbatch call.
    sbatch_args = { "--qos=normal" },
}

-- Per-trainer settings: trainers are chosen per call (ctx:train("xgboost",
-- ...)), so this section holds one table per trainer backend.
trainer = {
    xgboost = { nthread = 16, tree_method = "hist" },
    command = { timeout = 7200 },
}

-- Model serving.  Bind to loopback unless a proxy in front needs more;
-- with a token set, requests need "Authorization: Bearer <token>".
server = {
    backend = "http",
    host    = "127.0.0.1",
    port    = 8080,
    token   = env("ORRERY_SERVER_TOKEN"),
}

-- Monitoring of served models: drift per window, alerts to a webhook.
monitor = {
    backend = "drift",
    window  = "1h",
    -- (Not `drift = {...}`: a sub-table named like a backend would be
    -- that backend's whole configuration, see docs/configuration.md.)
    thresholds = { psi = 0.2 },
    webhook = { url = env("ORRERY_ALERT_WEBHOOK") },
}
