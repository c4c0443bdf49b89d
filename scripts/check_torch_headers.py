#!/usr/bin/python3
"""Compiles (syntax only) every source that uses LibTorch against another
LibTorch's headers, e.g. a PyTorch 2.x wheel's, on a machine that has only
Debian's LibTorch 1.13 installed: the API check of docs/gpu.md.

  scripts/check_torch_headers.py TORCH_INCLUDE [BUILD_DIR] [-- EXTRA_FLAGS...]

TORCH_INCLUDE is the wheel's torch/include folder (copy it from any machine
with the wheel: `python3 -c 'import torch,os;print(os.path.dirname(torch.__file__))'`/include).
BUILD_DIR (default build) must hold compile_commands.json from a normal build.
Exits 1 if any source fails; prints the first errors of each.
"""
import concurrent.futures
import json
import os
import shlex
import subprocess
import sys

DEBIAN_API = "/usr/include/torch/csrc/api/include"


def main():
    args = sys.argv[1:]
    extra = args[args.index("--") + 1:] if "--" in args else []
    args = args[:args.index("--")] if "--" in args else args
    if not args:
        sys.exit(__doc__)
    include, build = args[0], (args[1] if len(args) > 1 else "build")
    commands = json.load(open(os.path.join(build, "compile_commands.json")))
    jobs = []
    for c in commands:
        if DEBIAN_API not in c["command"]:
            continue
        words, out, i = shlex.split(c["command"]), [], 0
        while i < len(words):
            w = words[i]
            if w == "-o":  # no object file
                i += 2
                continue
            if w == "-isystem" and words[i + 1] == DEBIAN_API:  # the other LibTorch first
                out += ["-isystem", include, "-isystem", include + "/torch/csrc/api/include"]
                i += 2
                continue
            if w in ("-DUSE_RPC", "-DUSE_TENSORPIPE"):  # Debian's build flags, not the wheel's
                i += 1
                continue
            out.append(w)
            i += 1
        jobs.append((c["file"], c["directory"], out + ["-fsyntax-only"] + extra))

    def compile_one(job):
        name, folder, cmd = job
        r = subprocess.run(cmd, cwd=folder, capture_output=True, text=True)
        return name, r.returncode, r.stderr

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count() or 2) as pool:
        for name, rc, err in pool.map(compile_one, jobs):
            print(("FAIL " if rc else "ok   ") + name, flush=True)
            if rc:
                failed += 1
                print("\n".join(l for l in err.splitlines() if "error" in l)[:4000])
    print(f"{len(jobs) - failed} of {len(jobs)} sources compile against {include}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
