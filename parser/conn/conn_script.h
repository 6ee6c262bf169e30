// A whole connection written down as text (tests/vectors/connections/README.md):
// both directions in wire order, stream ends and time steps, optionally
// followed by the expected event log. The one loader of that grammar, used by
// the vector tests, `wsinspect decode --connection` and the fuzz corpus.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser/conn/connection_inspector.h"

namespace wsi {

struct ConnStep {
  enum class Kind : uint8_t { bytes, fin, reset, time };
  Kind kind = Kind::bytes;
  Direction dir = Direction::client_to_server;  // the sender, for bytes, fin and reset
  std::vector<uint8_t> bytes;
  uint64_t ms = 0;  // time steps
};

struct ConnScript {
  std::vector<ConnStep> steps;
  std::vector<std::string> expected;  // the lines after "expect:"
  bool has_expect = false;
};

// False with `error` ("line N: ...") when the text does not follow the grammar.
bool parse_conn_script(std::string_view text, ConnScript& out, std::string& error);

// Plays every step into `core` and finishes it. `cut(i, n)` gives, for the
// i-th bytes step of n bytes, where to cut it in two (n or more: whole; 0 is
// treated as whole too); `bytewise` feeds every step one byte at a time.
template <class Cut>
void replay_conn_script(const ConnScript& s, ConnectionInspector& core, Cut cut,
                        bool bytewise = false) {
  uint64_t now = 0;
  size_t index = 0;
  for (const ConnStep& st : s.steps) {
    switch (st.kind) {
      case ConnStep::Kind::bytes: {
        std::span<const uint8_t> b(st.bytes);
        if (bytewise) {
          for (size_t i = 0; i < b.size(); ++i) core.feed(st.dir, b.subspan(i, 1), now);
        } else {
          const size_t at = cut(index, b.size());
          if (at == 0 || at >= b.size()) {
            core.feed(st.dir, b, now);
          } else {
            core.feed(st.dir, b.first(at), now);
            core.feed(st.dir, b.subspan(at), now);
          }
        }
        ++index;
        break;
      }
      case ConnStep::Kind::fin:
        core.end_stream(st.dir, StreamEnd::fin, now);
        break;
      case ConnStep::Kind::reset:
        core.end_stream(st.dir, StreamEnd::reset, now);
        break;
      case ConnStep::Kind::time:
        now += st.ms;
        break;
    }
  }
  core.finish(EndCause::none, now);
}

}  // namespace wsi
