#include "proxy/pcap_input.h"

#include <pcap/pcap.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <memory>

namespace wsi {
namespace {

struct PcapCloser {
  void operator()(pcap_t* p) const { pcap_close(p); }
};

// libpcap reads a pcapng file only while every interface in it has the link
// type of the first: dumpcap -i any -i lo, or a merged file, mixes them.
std::string explain(const std::string& path, const std::string& what) {
  std::string s = what;
  if (what.find("different from the type of the first interface") != std::string::npos ||
      what.find("interfaces with different link") != std::string::npos) {
    s += " (libpcap reads a pcapng file only when all its interfaces have one link type; split "
         "it per interface N: `tshark -r " +
         path +
         " -Y frame.interface_id==N -w partN.pcapng`, then `editcap -F pcap -T ENCAP "
         "partN.pcapng partN.pcap` with that interface's encapsulation (ether, linux-sll, "
         "rawip, ...: editcap -T lists them), and decode each part)";
  }
  return s;
}

}  // namespace

bool is_capture_file(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  uint8_t m[4] = {};
  const size_t n = std::fread(m, 1, 4, f);
  std::fclose(f);
  if (n < 4) return false;
  const uint32_t be = uint32_t{m[0]} << 24 | uint32_t{m[1]} << 16 | uint32_t{m[2]} << 8 | m[3];
  const uint32_t le = uint32_t{m[3]} << 24 | uint32_t{m[2]} << 16 | uint32_t{m[1]} << 8 | m[0];
  for (uint32_t v : {be, le})
    if (v == 0xa1b2c3d4 || v == 0xa1b23c4d) return true;  // pcap, micro- and nanoseconds
  return be == 0x0a0d0d0a;                                // pcapng section header block
}

CaptureReadResult read_capture(const std::string& path,
                               const std::function<void(const CapturedPacket&)>& on_packet,
                               const std::function<void(uint64_t, uint64_t)>& progress) {
  CaptureReadResult r;
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  std::unique_ptr<pcap_t, PcapCloser> p(
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf));
  if (!p) {
    r.ok = false;
    r.error = explain(path, errbuf);
    return r;
  }
  uint64_t size = 0;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) size = static_cast<uint64_t>(st.st_size);
  std::FILE* file = pcap_file(p.get());
  const int link = pcap_datalink(p.get());
  for (;;) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    const int rc = pcap_next_ex(p.get(), &h, &data);
    if (rc == PCAP_ERROR_BREAK) break;  // the end of the file
    if (rc != 1) {
      r.ok = false;
      r.error = explain(path, pcap_geterr(p.get()));
      break;
    }
    ++r.packets;
    CapturedPacket pkt;
    pkt.time_us =
        static_cast<uint64_t>(h->ts.tv_sec) * 1000000 + static_cast<uint64_t>(h->ts.tv_usec);
    pkt.link = link;
    pkt.data = {data, h->caplen};
    pkt.wire_len = h->len;
    on_packet(pkt);
    if (progress && (r.packets & 4095) == 0 && file) {
      const long at = std::ftell(file);
      progress(at > 0 ? static_cast<uint64_t>(at) : 0, size);
    }
  }
  return r;
}

}  // namespace wsi
