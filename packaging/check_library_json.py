#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# check_library_json.py -- checks library.json (PlatformIO) against the tree:
# it parses; name, version, license and the required fields are right (the
# name is CMakeLists.txt's project, the version asyncio.h's ASYNCIO_VERSION);
# every file the source filter names exists; the extraScript picks the right
# port (run here with a stand-in for PlatformIO's environment).
#
#   packaging/check_library_json.py              check, exit 1 on a problem
#   packaging/check_library_json.py --sources P  also print the files a build
#                                                for platform P compiles
import contextlib
import io
import json
import os
import re
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
problems = []


def read(path):
    with open(os.path.join(root, path), encoding="utf-8") as f:
        return f.read()


with open(os.path.join(root, "library.json"), encoding="utf-8") as f:
    lib = json.load(f)

version = re.search(r'^#define ASYNCIO_VERSION "([^"]+)"', read("asyncio.h"), re.M).group(1)
project = re.search(r"^project\((\w+)", read("CMakeLists.txt"), re.M).group(1)
if lib.get("name") != project:
    problems.append("name %r, CMakeLists.txt's project is %r" % (lib.get("name"), project))
if lib.get("version") != version:
    problems.append("version %r, asyncio.h says %r" % (lib.get("version"), version))
if lib.get("license") != "MIT":
    problems.append("license %r, not MIT" % lib.get("license"))
for key in ("description", "keywords", "frameworks", "platforms", "build"):
    if not lib.get(key):
        problems.append("no %r" % key)

build = lib.get("build", {})
src_dir = build.get("srcDir", "src")


def filter_files(flt):
    out = []
    for item in flt:
        m = re.fullmatch(r"\+<([^*>]+)>", item)
        if m:
            out.append(os.path.normpath(os.path.join(src_dir, m.group(1))))
    return out


for path in filter_files(build.get("srcFilter", [])) + [build.get("extraScript", "")]:
    if not path or not os.path.isfile(os.path.join(root, path)):
        problems.append("missing file %r" % path)


class StandIn:
    """What the extraScript uses of PlatformIO's SCons environment."""

    def __init__(self, platform, option="", defines=()):
        self.vars = {"PIOPLATFORM": platform, "CPPDEFINES": list(defines)}
        self.option = option
        self.exited = None

    def get(self, key, default=None):
        return self.vars.get(key, default)

    def GetProjectOption(self, name, default=None):
        return self.option if name == "custom_asyncio_port" and self.option else default

    def Replace(self, **kw):
        self.vars.update(kw)

    def Exit(self, code):
        self.exited = code


def run_script(env):
    code = compile(read(build["extraScript"]), build["extraScript"], "exec")
    exec(code, {"Import": lambda name: None, "env": env, "__name__": "platformio"})
    return env


cases = [  # (platform, custom option, defines) -> the port file, or None
    (("native", "", ()), "port_posix.c"),
    (("ststm32", "", ()), None),
    (("ststm32", "openmv", ()), "port_openmv.c"),
    (("ststm32", "", (("ASYNCIO_PORT", "openmv"),)), "port_openmv.c"),
    (("native", "none", ()), None),
]
for (platform, option, defines), port in cases:
    env = run_script(StandIn(platform, option, defines))
    files = filter_files(env.get("SRC_FILTER", []))
    ports = [f for f in files if f.startswith("port_")]
    if ports != ([port] if port else []) or "src/asyncio.c" not in files:
        problems.append("extraScript on %s (%r, %r) builds %r" % (platform, option, defines, files))
    for f in files:
        if not os.path.isfile(os.path.join(root, f)):
            problems.append("extraScript names a missing file %r" % f)
said = io.StringIO()
with contextlib.redirect_stdout(said):
    env = run_script(StandIn("native", "bogus"))
if env.exited != 1 or "unknown port 'bogus'" not in said.getvalue():
    problems.append("extraScript accepted port 'bogus'")

if problems:
    for p in problems:
        print("library.json: %s" % p, file=sys.stderr)
    sys.exit(1)
if len(sys.argv) == 3 and sys.argv[1] == "--sources":
    for f in filter_files(run_script(StandIn(sys.argv[2])).get("SRC_FILTER", [])):
        print(f)
else:
    print("ok   library.json: %s %s, srcFilter and extraScript ports checked" % (lib["name"], version))
