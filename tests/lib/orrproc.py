"""tests/lib/orrproc.py - a long-running orrery command under test
(`orrery serve`, `orrery monitor serve`): started with its stderr in a
file, its stdout read by a thread until a line matches `pattern` (its
"listening on URL" line), stopped by PID.  Waits are bounded by
`deadline`, never by timing."""
import os
import queue
import re
import signal
import subprocess
import threading
import time


class Proc:
    def __init__(self, argv, cwd, env, pattern, deadline, name="proc"):
        self.deadline = deadline
        self.err_path = os.path.join(cwd, "%s-%d.err" % (name, time.time_ns()))
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(argv, cwd=cwd, env=env,
                                  stdout=subprocess.PIPE, stderr=self.err,
                                  text=True)
        self.out = []
        self.match = None
        lines = self.lines = queue.Queue()

        def reader():                   # stdout may be read to its end
            for line in self.p.stdout:
                lines.put(line)
            lines.put(None)
        threading.Thread(target=reader, daemon=True).start()
        end = time.time() + deadline
        while time.time() < end and self.match is None:
            try:
                line = lines.get(timeout=max(0.0, end - time.time()))
            except queue.Empty:
                break
            if line is None:
                break
            self.out.append(line)
            self.match = re.search(pattern, line)
        if self.match is None:
            err = self.stderr()
            self.stop()
            raise RuntimeError("%s did not start: %s" % (argv[1:], err))

    def rest(self):
        """Standard output after the matched line (after stop)."""
        out = []
        while True:
            try:
                line = self.lines.get(timeout=self.deadline)
            except queue.Empty:
                break
            if line is None:
                break
            out.append(line)
        return "".join(out)

    def stderr(self):
        if not self.err.closed:
            self.err.flush()
        with open(self.err_path) as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)
        try:
            rc = self.p.wait(timeout=self.deadline)
        except subprocess.TimeoutExpired:
            os.kill(self.p.pid, signal.SIGKILL)
            rc = self.p.wait()
        if not self.err.closed:
            self.err.close()
        return rc
