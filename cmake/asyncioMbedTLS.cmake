# SPDX-License-Identifier: MIT
# asyncioMbedTLS.cmake -- defines asyncio::mbedtls (an INTERFACE IMPORTED
# target: mbedTLS's headers and its three libraries) when mbedTLS is found.
# Used by CMakeLists.txt for asyncio::stream, and again by the installed
# asyncioConfig.cmake, so a consumer finds the same mbedTLS on its machine.
#
# Looked for, in this order:
#   1. targets MbedTLS::mbedtls (mbedTLS 3's package, already found) or
#      mbedtls/mbedx509/mbedcrypto (mbedTLS added with add_subdirectory);
#   2. find_package(MbedTLS CONFIG) (mbedTLS 3 installs one);
#   3. the headers and libraries themselves (mbedTLS 2, e.g. Debian's
#      libmbedtls-dev, has no CMake package): MBEDTLS_INCLUDE_DIR and
#      MBEDTLS_LIBRARY / MBEDX509_LIBRARY / MBEDCRYPTO_LIBRARY, which may be
#      set by hand.
if(TARGET asyncio::mbedtls)
  return()
endif()

set(_asyncio_mbedtls_libs "")
if(TARGET MbedTLS::mbedtls AND TARGET MbedTLS::mbedx509 AND TARGET MbedTLS::mbedcrypto)
  set(_asyncio_mbedtls_libs MbedTLS::mbedtls MbedTLS::mbedx509 MbedTLS::mbedcrypto)
elseif(TARGET mbedtls AND TARGET mbedx509 AND TARGET mbedcrypto)
  set(_asyncio_mbedtls_libs mbedtls mbedx509 mbedcrypto)
else()
  find_package(MbedTLS CONFIG QUIET)
  if(TARGET MbedTLS::mbedtls)
    set(_asyncio_mbedtls_libs MbedTLS::mbedtls MbedTLS::mbedx509 MbedTLS::mbedcrypto)
  else()
    find_path(MBEDTLS_INCLUDE_DIR mbedtls/ssl.h)
    find_library(MBEDTLS_LIBRARY mbedtls)
    find_library(MBEDX509_LIBRARY mbedx509)
    find_library(MBEDCRYPTO_LIBRARY mbedcrypto)
    mark_as_advanced(MBEDTLS_INCLUDE_DIR MBEDTLS_LIBRARY MBEDX509_LIBRARY MBEDCRYPTO_LIBRARY)
    if(MBEDTLS_INCLUDE_DIR AND MBEDTLS_LIBRARY AND MBEDX509_LIBRARY AND MBEDCRYPTO_LIBRARY)
      # Order matters for static libraries: tls needs x509 needs crypto.
      set(_asyncio_mbedtls_libs "${MBEDTLS_LIBRARY}" "${MBEDX509_LIBRARY}" "${MBEDCRYPTO_LIBRARY}")
      set(_asyncio_mbedtls_inc "${MBEDTLS_INCLUDE_DIR}")
    endif()
  endif()
endif()

if(_asyncio_mbedtls_libs)
  add_library(asyncio::mbedtls INTERFACE IMPORTED)
  set_target_properties(asyncio::mbedtls PROPERTIES
    INTERFACE_LINK_LIBRARIES "${_asyncio_mbedtls_libs}")
  if(_asyncio_mbedtls_inc)
    set_target_properties(asyncio::mbedtls PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${_asyncio_mbedtls_inc}")
  endif()
  if(NOT asyncio_FIND_QUIETLY)
    message(STATUS "asyncio: mbedTLS: ${_asyncio_mbedtls_libs}")
  endif()
endif()
unset(_asyncio_mbedtls_libs)
unset(_asyncio_mbedtls_inc)
