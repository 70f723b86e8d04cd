# sdk/package.cmake - install the SDK as a package third parties find:
#
#   lib/cmake/OrrerySDK/OrrerySDKConfig.cmake     find_package(OrrerySDK)
#   lib/cmake/OrrerySDK/OrrerySDKConfigVersion.cmake
#   lib/cmake/OrrerySDK/OrrerySDKTargets.cmake    imported target Orrery::sdk
#   lib/cmake/OrrerySDK/OrreryPlugin.cmake        orrery_add_plugin()
#   lib/pkgconfig/orrery-sdk.pc                   cflags + plugindir
#
# Both are relocatable: they locate the prefix from their own path, so an
# install tree moved elsewhere (or installed with --prefix) still works.
include(CMakePackageConfigHelpers)

set(ORR_SDK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/OrrerySDK)

# The ABI version, read from the header that defines it.
file(STRINGS ${CMAKE_CURRENT_SOURCE_DIR}/include/orrery/plugin.h _abi
     REGEX "^#define ORR_ABI_(MAJOR|MINOR) [0-9]+")
string(REGEX REPLACE ".*ORR_ABI_MAJOR ([0-9]+).*" "\\1" ORR_SDK_ABI_MAJOR
       "${_abi}")
string(REGEX REPLACE ".*ORR_ABI_MINOR ([0-9]+).*" "\\1" ORR_SDK_ABI_MINOR
       "${_abi}")

install(TARGETS orrery_sdk EXPORT OrrerySDKTargets)
install(EXPORT OrrerySDKTargets NAMESPACE Orrery::
        DESTINATION ${ORR_SDK_CMAKE_DIR})

configure_package_config_file(
  ${CMAKE_CURRENT_SOURCE_DIR}/cmake/OrrerySDKConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/OrrerySDKConfig.cmake
  INSTALL_DESTINATION ${ORR_SDK_CMAKE_DIR}
  PATH_VARS ORR_PLUGIN_INSTALL_DIR CMAKE_INSTALL_INCLUDEDIR)
write_basic_package_version_file(
  ${CMAKE_CURRENT_BINARY_DIR}/OrrerySDKConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/OrrerySDKConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/OrrerySDKConfigVersion.cmake
  ${CMAKE_CURRENT_SOURCE_DIR}/cmake/OrreryPlugin.cmake
  DESTINATION ${ORR_SDK_CMAKE_DIR})

# pkg-config: paths relative to the .pc file's own directory.
file(RELATIVE_PATH ORR_PC_TO_PREFIX
     "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
string(REGEX REPLACE "/$" "" ORR_PC_TO_PREFIX "${ORR_PC_TO_PREFIX}")
foreach(_v ORR_PLUGIN_INSTALL_DIR CMAKE_INSTALL_INCLUDEDIR)
  if(IS_ABSOLUTE "${${_v}}")
    set(ORR_PC_${_v} "${${_v}}")
  else()
    set(ORR_PC_${_v} "\${prefix}/${${_v}}")
  endif()
endforeach()
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/orrery-sdk.pc.in
               ${CMAKE_CURRENT_BINARY_DIR}/orrery-sdk.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/orrery-sdk.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
