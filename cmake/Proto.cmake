# br2k_grpc_library(<target> PROTOS <files relative to proto/>)
# Generates C++ (protobuf + gRPC) into the build tree once; regenerated only when a .proto changes.
function(br2k_grpc_library target)
  cmake_parse_arguments(ARG "" "" "PROTOS" ${ARGN})
  set(out ${CMAKE_BINARY_DIR}/gen)
  set(srcs "")
  foreach(p IN LISTS ARG_PROTOS)
    string(REGEX REPLACE "\\.proto$" "" base ${p})
    set(gen ${out}/${base}.pb.cc ${out}/${base}.pb.h ${out}/${base}.grpc.pb.cc ${out}/${base}.grpc.pb.h)
    add_custom_command(
      OUTPUT ${gen}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out}
      COMMAND protobuf::protoc --proto_path=${PROJECT_SOURCE_DIR}/proto --cpp_out=${out}
              --grpc_out=${out} --plugin=protoc-gen-grpc=${BR2K_GRPC_CPP_PLUGIN}
              ${PROJECT_SOURCE_DIR}/proto/${p}
      DEPENDS ${PROJECT_SOURCE_DIR}/proto/${p}
      COMMENT "protoc ${p}")
    list(APPEND srcs ${out}/${base}.pb.cc ${out}/${base}.grpc.pb.cc)
  endforeach()
  add_library(${target} STATIC ${srcs})
  target_include_directories(${target} SYSTEM PUBLIC ${out})
  target_link_libraries(${target} PUBLIC protobuf::libprotobuf gRPC::grpc++)
endfunction()
