// Linking each close frame to what caused it: the violation the closing
// endpoint received, or, when it received none, the conclusion that the
// corruption happened on its side of the vantage point. Fed in wire order
// with the time of each observation; never reads a clock.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "parser/conn/events.h"

namespace wsi {

class CloseAttribution {
 public:
  // An error-severity violation flagged in `v.dir` at `now_ms`.
  void record(const Violation& v, uint64_t now_ms);

  // Data frames and complete messages, for a 1009 no violation explains:
  // it answers the largest message received, or one in progress whose
  // declared size the endpoint refused at its header.
  void note_frame(Direction d, const FrameHeader& h, uint64_t now_ms);
  void note_message(const MessageInfo& m, uint64_t now_ms);

  struct Verdict {
    bool in_reply = false;
    std::optional<CloseCause> cause;
    bool unseen_corruption = false;
  };
  // A close frame in `c.dir` observed at `now_ms`.
  Verdict judge(const CloseFrame& c, uint64_t now_ms);

  bool close_seen(Direction d) const { return close_seen_[dir_index(d)]; }
  bool both_closed() const { return close_seen_[0] && close_seen_[1]; }

 private:
  struct Flagged {
    Rule rule;
    uint64_t offset;
    uint64_t frame_index;
    uint64_t at_ms;
  };
  // Allocated at the first violation. flagged[dir][0]: the last error;
  // [1], [2], [3]: the first with close code 1002, 1007, 1009 (the first
  // violation for a code is what an endpoint fails on).
  struct Evidence {
    std::optional<Flagged> flagged[2][4];
  };
  std::unique_ptr<Evidence> evidence_;
  struct Sized {
    uint64_t size = 0;  // bytes (declared so far, for one in progress)
    uint64_t offset = 0;
    uint64_t frame_index = 0;
    uint64_t at_ms = 0;
  };
  Sized largest_[2];      // the largest complete message per direction
  Sized in_progress_[2];  // the message being received (size 0: none)
  bool close_seen_[2] = {false, false};
  uint16_t close_code_[2] = {0, 0};   // the code each direction's close frame carried
  uint64_t close_frame_[2] = {0, 0};  // and its frame index
};

}  // namespace wsi
