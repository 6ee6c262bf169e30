// libFuzzer target: any bytes as a capture file, read as `wsinspect decode
// FILE.pcap` reads one: libpcap's pcap and pcapng reader (the input is handed
// to it as a file), the link layers, IPv4/IPv6 and TCP taken apart, every
// TCP connection reassembled, and the connection core run on each, its
// events written in JSON or in text.
//
// Oracle: no crash, leak or sanitizer report; every JSON line parses as one
// object; no line holds a raw control character.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "proxy/capture_decode.h"
#include "proxy/pcap_input.h"
#include "proxy/report/report_sink.h"

namespace {

class CheckedLines final : public wsi::LineOut {
 public:
  explicit CheckedLines(bool json) : json_(json) {}
  bool enabled(wsi::EventLevel) const override { return true; }
  void write(wsi::EventLevel, const std::string& line) override {
    for (char c : line) {
      const auto u = static_cast<unsigned char>(c);
      if ((u < 0x20 && c != '\n') || u == 0x7f) fail("a raw control character", line);
    }
    if (json_ && !nlohmann::json::parse(line, nullptr, false).is_object())
      fail("a JSON line that is not one object", line);
  }

 private:
  [[noreturn]] static void fail(const char* what, const std::string& line) {
    std::fprintf(stderr, "fuzz_pcap: %s:\n%s\n", what, line.c_str());
    std::abort();
  }
  bool json_;
};

// The input as a file libpcap can open: a memory file, rewritten each run.
std::string input_path(const uint8_t* data, size_t size) {
  static const int fd = memfd_create("capture", 0);
  if (fd < 0 || ftruncate(fd, 0) != 0) std::abort();
  for (size_t done = 0; done < size;) {
    const ssize_t n = pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path = input_path(data, size);
  // One format a run (both cost twice the time): JSON for even sizes.
  const bool json = size % 2 == 0;
  wsi::CaptureDecodeOptions opts;
  opts.json = json;
  CheckedLines out(json);
  wsi::CaptureDecoder decoder(opts, out);
  wsi::read_capture(
      path, [&](const wsi::CapturedPacket& p) { decoder.packet(p.time_us, p.link, p.data); }, {});
  decoder.finish();
  return 0;
}
