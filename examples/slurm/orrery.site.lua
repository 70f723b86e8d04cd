-- examples/slurm/orrery.site.lua - a site on a Slurm cluster whose login
-- and compute nodes share a file system (/shared here): storage and the
-- metadata database live there, so `orrery step` on a compute node reads
-- and writes exactly what the runner on the login node sees.
-- Point ORRERY_SITE at this file (sbatch exports the environment to the
-- jobs), or name it in orchestrator.site below.
root = "/shared/ml/.orrery"              -- blobs + orrery.db on the shared FS

orchestrator = {
  backend = "slurm",
  partition = "gpu",                     -- --partition
  account = "ml-team",                   -- --account
  qos = "normal",                        -- --qos
  capacity = 64,                         -- steps submitted at once
  site = "/shared/ml/orrery.site.lua",   -- exported as ORRERY_SITE to jobs
  orrery = "/shared/ml/bin/orrery",      -- the binary compute nodes run
  jobcomp = "/var/log/slurm/jobcomp.log",-- JobCompLoc (jobcomp/filetxt)
  accounting = false,                    -- true: sacct (slurmdbd) instead
  poll_interval = 250,                   -- ms between squeue calls
  controller_timeout = 120,              -- s of failing squeue before steps are lost
  command_timeout = 30,                  -- s per Slurm command
}
