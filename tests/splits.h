// Replays one input as the same byte stream cut in different ways: whole, one
// byte at a time, and at every two-way split. A sans-IO parser must produce the
// same events for each.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace wsi::test {

using Pieces = std::vector<std::span<const uint8_t>>;

struct Split {
  std::string name;  // "whole", "bytewise", "split@N"
  Pieces pieces;
};

inline std::vector<Split> all_splits(std::span<const uint8_t> in) {
  std::vector<Split> out;
  out.push_back({"whole", {in}});
  Pieces bytewise;
  for (size_t i = 0; i < in.size(); ++i) bytewise.push_back(in.subspan(i, 1));
  out.push_back({"bytewise", bytewise});
  for (size_t cut = 1; cut < in.size(); ++cut)
    out.push_back({"split@" + std::to_string(cut), {in.first(cut), in.subspan(cut)}});
  return out;
}

inline std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace wsi::test
