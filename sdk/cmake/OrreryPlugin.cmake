# orrery_add_plugin(<name> SOURCES <file>... [LIBRARIES <lib>...]
#                   [OUTPUT_DIRECTORY <dir>] [NO_INSTALL])
#
# Builds an Orrery plugin: a MODULE library named exactly <name>.so (no
# "lib" prefix), compiled against the SDK headers with hidden visibility so
# that only orr_plugin_describe is exported, linked with --no-undefined so a
# missing symbol fails at build time rather than at dlopen, and installed
# into ORR_PLUGIN_INSTALL_DIR.  Name it <kind>-<backend> (e.g. storage-s3):
# the core loads plugins lazily by that prefix.
#
# Used in-tree and by third parties alike (find_package(OrrerySDK)).
function(orrery_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES;LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "orrery_add_plugin(${name}): SOURCES is required")
  endif()
  add_library(${name} MODULE ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE Orrery::sdk ${ARG_LIBRARIES})
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    C_STANDARD 17
    C_STANDARD_REQUIRED ON
    C_VISIBILITY_PRESET hidden)
  if(NOT APPLE)
    target_link_options(${name} PRIVATE "LINKER:--no-undefined")
  endif()
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ARG_OUTPUT_DIRECTORY}")
  elseif(DEFINED ORR_BUILD_PLUGIN_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ORR_BUILD_PLUGIN_DIR}")
  endif()
  if(NOT ARG_NO_INSTALL)
    if(NOT DEFINED ORR_PLUGIN_INSTALL_DIR)
      set(ORR_PLUGIN_INSTALL_DIR "lib/orrery/plugins")
    endif()
    install(TARGETS ${name} LIBRARY DESTINATION "${ORR_PLUGIN_INSTALL_DIR}")
  endif()
endfunction()
