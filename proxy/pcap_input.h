// Reading a capture file, pcap or pcapng (tcpdump, dumpcap, Wireshark),
// through libpcap one packet at a time: memory does not grow with the file.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace wsi {

// The file starts with the magic number of pcap (either byte order, micro-
// or nanosecond timestamps) or of a pcapng section header block.
bool is_capture_file(const std::string& path);

struct CapturedPacket {
  uint64_t time_us = 0;  // since the epoch
  int link = 0;          // the link type (libpcap's DLT_ value)
  std::span<const uint8_t> data;
  uint32_t wire_len = 0;  // before the capture cut it to its snap length
};

struct CaptureReadResult {
  bool ok = true;
  std::string error;  // when !ok: what libpcap said, and what to do about it
  uint64_t packets = 0;
};

// Hands every packet of `path` to `on_packet`, in file order. `progress`
// (may be empty) is called now and then with the bytes read so far and the
// file's size.
CaptureReadResult read_capture(const std::string& path,
                               const std::function<void(const CapturedPacket&)>& on_packet,
                               const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace wsi
