#include "parser/frame.h"

namespace wsi::opcode {

std::string_view name(uint8_t op) {
  switch (op) {
    case continuation:
      return "continuation";
    case text:
      return "text";
    case binary:
      return "binary";
    case close:
      return "close";
    case ping:
      return "ping";
    case pong:
      return "pong";
    default:
      return "reserved";
  }
}

}  // namespace wsi::opcode
