// Reads files from tests/vectors/ for the eth unit tests.
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "test_env.h"

namespace br2k::eth::testing {

inline std::string ReadVector(const std::string& name) {
  std::ifstream in(br2k::testing::SourceDir() / "tests" / "vectors" / name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json ReadJsonVector(const std::string& name) {
  return nlohmann::json::parse(ReadVector(name));
}

}  // namespace br2k::eth::testing
