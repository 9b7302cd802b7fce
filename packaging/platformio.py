# SPDX-License-Identifier: MIT
# platformio.py -- library.json's extraScript: which port PlatformIO builds
# into the library, beside the core (src/asyncio.c) and the streams
# (src/asyncio_stream.c). In the project's platformio.ini:
#
#   custom_asyncio_port = openmv      ; posix, openmv or none
#
# (or build_flags = -D ASYNCIO_PORT=openmv). Default: posix on the native
# platform, none elsewhere: then the project compiles its own port (a .c
# file with the port interface of asyncio.h).
#
# Runs inside PlatformIO's SCons build, with the library's environment;
# packaging/check_library_json.py runs it with a stand-in environment.
Import("env")  # noqa: F821 (SCons)

PORTS = {"posix": "port_posix.c", "openmv": "port_openmv.c", "none": None}
LIBRARY_SOURCES = ["src/asyncio.c", "src/asyncio_stream.c"]


def chosen_port(env):
    try:
        port = env.GetProjectOption("custom_asyncio_port", "")
    except Exception:  # an older PlatformIO, or no project option
        port = ""
    if port:
        return port.strip()
    for item in env.get("CPPDEFINES", []):
        if isinstance(item, (tuple, list)) and len(item) == 2 and item[0] == "ASYNCIO_PORT":
            return str(item[1])
        if isinstance(item, str) and item.startswith("ASYNCIO_PORT="):
            return item.split("=", 1)[1]
    return "posix" if env.get("PIOPLATFORM") == "native" else "none"


def source_filter(port):
    if port not in PORTS:
        raise ValueError("asyncio: unknown port '%s' (posix, openmv or none)" % port)
    files = LIBRARY_SOURCES + ([PORTS[port]] if PORTS[port] else [])
    return ["-<*>"] + ["+<%s>" % f for f in files]


port = chosen_port(env)  # noqa: F821
try:
    env.Replace(SRC_FILTER=source_filter(port))  # noqa: F821
except ValueError as e:
    print("Error: %s" % e)
    env.Exit(1)  # noqa: F821
