# br2k_warnings(<target>): the project's warning level for our own code.
add_library(br2k_warnings INTERFACE)
target_compile_options(br2k_warnings INTERFACE -Wall -Wextra -Wpedantic -Wnon-virtual-dtor
                                               -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(br2k_warnings INTERFACE -Wshadow=local)
endif()
if(BR2K_WERROR)
  target_compile_options(br2k_warnings INTERFACE -Werror)
endif()
# Boost 1.74's Asio relies on <utility> being included first under GCC 12 in C++20 mode.
add_library(br2k_boost_fix INTERFACE)
target_compile_options(br2k_boost_fix INTERFACE -include utility)
