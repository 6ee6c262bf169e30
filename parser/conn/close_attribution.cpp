#include "parser/conn/close_attribution.h"

namespace wsi {
namespace {

// Slot of Evidence::flagged for a close code: 1 for 1002, 2 for 1007, 3 for 1009.
size_t code_slot(uint16_t code) {
  switch (code) {
    case 1002:
      return 1;
    case 1007:
      return 2;
    case 1009:
      return 3;
    default:
      return 0;
  }
}

}  // namespace

void CloseAttribution::record(const Violation& v, uint64_t now_ms) {
  const RuleInfo& info = rule_info(v.rule);
  if (info.severity != Severity::error) return;
  if (!evidence_) evidence_ = std::make_unique<Evidence>();
  auto& slots = evidence_->flagged[dir_index(v.dir)];
  const Flagged f{v.rule, v.offset, v.frame_index, now_ms};
  slots[0] = f;
  if (const size_t slot = code_slot(info.close_code)) {
    if (!slots[slot]) slots[slot] = f;
  }
}

void CloseAttribution::note_frame(Direction d, const FrameHeader& h, uint64_t now_ms) {
  Sized& p = in_progress_[dir_index(d)];
  if (h.opcode != opcode::continuation) p = Sized{0, h.offset, h.index, now_ms};
  p.size += h.length;
  p.at_ms = now_ms;
}

void CloseAttribution::note_message(const MessageInfo& m, uint64_t now_ms) {
  const size_t i = dir_index(m.dir);
  const uint64_t size = m.inflated_size ? m.inflated_size : m.size;
  if (size >= largest_[i].size)
    largest_[i] = Sized{size, in_progress_[i].offset, m.first_frame_index, now_ms};
  in_progress_[i] = Sized{};
}

CloseAttribution::Verdict CloseAttribution::judge(const CloseFrame& c, uint64_t now_ms) {
  Verdict v;
  const Direction received = opposite(c.dir);  // what the closing endpoint had received
  const size_t r = dir_index(received);
  // A close sent after receiving one answers it (RFC 6455 §5.5.1): the code
  // usually repeats the first close's, and the first close carries the cause.
  v.in_reply = close_seen_[r];
  close_seen_[dir_index(c.dir)] = true;
  close_code_[dir_index(c.dir)] = c.code;
  close_frame_[dir_index(c.dir)] = c.frame_index;

  const bool protocol_code = c.code == 1002 || c.code == 1007 || c.code == 1009;
  if (!protocol_code) return v;
  static const Evidence kNone;
  const auto& flagged = (evidence_ ? *evidence_ : kNone).flagged[r];
  // A reply is explained by what it answers only when that close frame was
  // itself flagged (an endpoint answering a broken close with 1002 or 1007).
  const bool reply_to_flagged = v.in_reply && flagged[0] &&
                                flagged[0]->frame_index == close_frame_[r] &&
                                c.code != close_code_[r];
  if (v.in_reply && !reply_to_flagged) return v;
  // Prefer a violation whose rule makes endpoints close with this very code.
  const std::optional<Flagged>& best = reply_to_flagged             ? flagged[0]
                                       : flagged[code_slot(c.code)] ? flagged[code_slot(c.code)]
                                                                    : flagged[0];
  if (best) {
    v.cause = CloseCause{best->rule, received, best->offset, best->frame_index,
                         now_ms >= best->at_ms ? now_ms - best->at_ms : 0};
  } else if (c.code == 1009) {
    // Too big for the endpoint, whatever its limit: the message in
    // progress when it is larger, else the largest it received.
    const Sized& p = in_progress_[r];
    const Sized& l = largest_[r];
    const Sized* m = p.size && p.size >= l.size ? &p : l.size ? &l : nullptr;
    if (m)
      v.cause = CloseCause{Rule::message_too_big,
                           received,
                           m->offset,
                           m->frame_index,
                           now_ms >= m->at_ms ? now_ms - m->at_ms : 0,
                           false,
                           m->size};
  } else {
    v.unseen_corruption = true;
  }
  return v;
}

}  // namespace wsi
