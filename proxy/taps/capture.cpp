#include "proxy/taps/capture.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>

namespace wsi {
namespace {

constexpr int kSnapLength = 262144;
constexpr uint64_t kFileHeader = 24;    // pcap's file header
constexpr uint64_t kRecordHeader = 16;  // and each packet's
constexpr size_t kRequestLineLimit = 8192;

// Initial sequence numbers differ between flows (splitmix64 of a counter).
uint32_t next_isn() {
  static uint64_t state = 0x9e3779b97f4a7c15ull ^ static_cast<uint64_t>(std::time(nullptr));
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return static_cast<uint32_t>(z ^ (z >> 31));
}

// The request-target's path in a request line ("GET /a?b HTTP/1.1" gives
// "/a"; the absolute form "GET ws://host/a HTTP/1.1" too).
std::string_view request_path(std::string_view line) {
  const size_t sp = line.find(' ');
  if (sp == std::string_view::npos) return {};
  std::string_view target = line.substr(sp + 1);
  target = target.substr(0, target.find(' '));
  if (const size_t scheme = target.find("://"); scheme != std::string_view::npos) {
    const size_t slash = target.find('/', scheme + 3);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return target.substr(0, target.find('?'));
}

}  // namespace

// ---- addresses ------------------------------------------------------------------------

IpEndpoint ip_endpoint(const sockaddr* sa) {
  IpEndpoint e;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(e.addr, &in->sin_addr, 4);
    e.port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    e.port = ntohs(in6->sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(e.addr, in6->sin6_addr.s6_addr + 12, 4);  // a dual-stack socket's IPv4 peer
    } else {
      e.v6 = true;
      std::memcpy(e.addr, &in6->sin6_addr, 16);
    }
  }
  return e;
}

bool parse_capture_net(std::string_view text, CaptureNet& out, std::string& why) {
  const size_t slash = text.find('/');
  const std::string addr(text.substr(0, slash));
  CaptureNet n;
  if (inet_pton(AF_INET, addr.c_str(), n.addr) == 1) {
    n.bits = 32;
  } else if (inet_pton(AF_INET6, addr.c_str(), n.addr) == 1) {
    n.v6 = true;
    n.bits = 128;
  } else {
    why = "capture client '" + std::string(text) +
          "': an IPv4 or IPv6 address, optionally with a prefix length (10.0.0.0/8)";
    return false;
  }
  if (slash != std::string_view::npos) {
    const std::string_view bits = text.substr(slash + 1);
    int b = 0;
    bool ok = !bits.empty() && bits.size() <= 3;
    for (char c : bits) {
      ok = ok && c >= '0' && c <= '9';
      b = b * 10 + (c - '0');
    }
    if (!ok || b > n.bits) {
      why = "capture client '" + std::string(text) + "': the prefix length must be 0 to " +
            std::to_string(n.bits);
      return false;
    }
    n.bits = b;
  }
  out = n;
  return true;
}

bool check_capture_net(std::string_view text, std::string& why) {
  if (text.empty()) return true;
  CaptureNet n;
  return parse_capture_net(text, n, why);
}

bool CaptureNet::contains(const IpEndpoint& e) const {
  if (e.v6 != v6) return false;
  const int whole = bits / 8;
  if (std::memcmp(e.addr, addr, whole) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (e.addr[whole] & mask) == (addr[whole] & mask);
}

// ---- the file --------------------------------------------------------------------------

CaptureFile::~CaptureFile() {
  close();
  if (pcap_) pcap_close(pcap_);
}

bool CaptureFile::open(const CaptureSettings& s, std::string& error) {
  settings_ = s;
  if (!pcap_) pcap_ = pcap_open_dead(DLT_RAW, kSnapLength);
  if (!pcap_) {
    error = "cannot start the capture: libpcap failed";
    return false;
  }
  timespec wall{};
  clock_gettime(CLOCK_REALTIME, &wall);
  epoch_us_ = static_cast<uint64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000;
  start_ns_ = uv_hrtime();
  {
    std::lock_guard<std::mutex> lock(file_mutex_);
    if (!open_file(error)) return false;
  }
  // Signals stay with the loop's thread: the writer starts with them blocked.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  thread_ = std::thread([this] { writer(); });
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return true;
}

pcap_dumper_t* CaptureFile::create_file(std::string& error) {
  const std::string& path = settings_.path;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    error = "cannot open the capture " + path + ": " + std::strerror(errno);
    return nullptr;
  }
  // An existing file keeps its mode under O_CREAT: it holds secrets too.
  if (fchmod(fd, 0600) != 0) {
    error = "cannot make the capture " + path + " private: " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  FILE* f = fdopen(fd, "wb");
  if (!f) {
    error = "cannot open the capture " + path + ": " + std::strerror(errno);
    ::close(fd);
    return nullptr;
  }
  setvbuf(f, nullptr, _IOFBF, 256 * 1024);
  // pcap_ only gives the link type and snapshot length: the loop and the
  // writer may both create files with it.
  pcap_dumper_t* d = pcap_dump_fopen(pcap_, f);
  if (!d) {
    error = "cannot write the capture " + path + ": " + pcap_geterr(pcap_);
    std::fclose(f);
  }
  return d;
}

bool CaptureFile::open_file(std::string& error) {
  pcap_dumper_t* d = create_file(error);
  if (!d) return false;
  if (dumper_) pcap_dump_close(dumper_);
  dumper_ = d;
  file_bytes_ = kFileHeader;
  return true;
}

bool CaptureFile::reopen(std::string& error) {
  if (!thread_.joinable()) return true;
  pcap_dumper_t* d = create_file(error);
  if (!d) return false;
  flush();  // what came before the signal, for the old file
  Chunk marker;
  marker.next_file = d;
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    queue_.push_back(std::move(marker));  // never dropped: it holds the new file
  }
  wake_.notify_one();
  return true;
}

void CaptureFile::flush() {
  last_hand_off_us_ = now_us();
  if (gathering_.bytes.empty()) return;
  Chunk c = std::move(gathering_);
  gathering_ = Chunk{};
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (stopping_ || queued_bytes_ + c.bytes.size() > kQueueLimit) {
      dropped_ += c.packets;  // the disk is that far behind: these packets are lost
      return;
    }
    queued_bytes_ += c.bytes.size();
    queue_.push_back(std::move(c));
  }
  wake_.notify_one();
}

void CaptureFile::close() {
  if (!thread_.joinable()) return;
  flush();
  {
    std::lock_guard<std::mutex> lock(queue_mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
  std::lock_guard<std::mutex> lock(file_mutex_);
  if (dumper_) pcap_dump_close(dumper_);
  dumper_ = nullptr;
}

uint64_t CaptureFile::now_us() const {
  return epoch_us_ + (uv_hrtime() - start_ns_) / 1000;
}

void CaptureFile::packet(uint64_t ts_us, std::span<const uint8_t> ip) {
  if (!thread_.joinable()) return;
  ++packets_;
  std::vector<uint8_t>& b = gathering_.bytes;
  if (b.empty()) b.reserve(kChunk + 64 * 1024);
  const size_t at = b.size();
  const uint32_t len = static_cast<uint32_t>(ip.size());
  b.resize(at + 12 + ip.size());
  std::memcpy(b.data() + at, &ts_us, 8);
  std::memcpy(b.data() + at + 8, &len, 4);
  std::memcpy(b.data() + at + 12, ip.data(), ip.size());
  ++gathering_.packets;
  if (b.size() >= kChunk || ts_us - last_hand_off_us_ >= kHandOffEveryUs) flush();
}

// The writer thread: chunks in order, the file flushed whenever the queue is
// empty, so that a capture is complete on disk soon after the traffic.
void CaptureFile::writer() {
  std::unique_lock<std::mutex> lock(queue_mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything is written
    Chunk c = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    {
      std::lock_guard<std::mutex> file(file_mutex_);
      if (c.next_file) {
        if (dumper_) pcap_dump_close(dumper_);
        dumper_ = c.next_file;
        file_bytes_ = kFileHeader;
      }
      write_chunk(c);
    }
    lock.lock();
    queued_bytes_ -= c.bytes.size();
    if (queue_.empty()) {
      lock.unlock();
      std::lock_guard<std::mutex> file(file_mutex_);
      if (dumper_) pcap_dump_flush(dumper_);
      lock.lock();
    }
  }
}

void CaptureFile::write_chunk(const Chunk& c) {
  const uint8_t* p = c.bytes.data();
  const uint8_t* end = p + c.bytes.size();
  while (p < end) {
    uint64_t ts_us;
    uint32_t len;
    std::memcpy(&ts_us, p, 8);
    std::memcpy(&len, p + 8, 4);
    const uint8_t* ip = p + 12;
    p = ip + len;
    if (!dumper_) continue;  // a rotation failed: the capture has stopped
    const uint64_t record = kRecordHeader + len;
    if (file_bytes_ + record > settings_.max_size && file_bytes_ > kFileHeader) rotate();
    if (!dumper_) continue;
    pcap_pkthdr h{};
    h.ts.tv_sec = static_cast<time_t>(ts_us / 1'000'000);
    h.ts.tv_usec = static_cast<suseconds_t>(ts_us % 1'000'000);
    h.caplen = h.len = len;
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, ip);
    file_bytes_ += record;
  }
}

// FILE becomes FILE.1, FILE.1 becomes FILE.2, ...; the oldest is replaced.
void CaptureFile::rotate() {
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  const std::string& path = settings_.path;
  for (uint32_t i = settings_.max_files - 1; i >= 1; --i) {
    const std::string from = i == 1 ? path : path + "." + std::to_string(i - 1);
    std::rename(from.c_str(), (path + "." + std::to_string(i)).c_str());
  }
  std::string error;
  open_file(error);  // on failure the capture stops; the proxy goes on
}

// ---- one connection --------------------------------------------------------------------

CaptureConn::CaptureConn(CaptureFile& file, const IpEndpoint& client, const IpEndpoint& listen)
    : file_(file),
      state_(file.settings().path_prefix.empty() ? State::capturing : State::holding),
      client_flow_(client, listen, next_isn(), next_isn()) {
  client_flow_.open(file_.now_us(), *this);
}

void CaptureConn::open_upstream(const IpEndpoint& local, const IpEndpoint& upstream) {
  if (upstream_flow_) return;
  upstream_flow_.emplace(local, upstream, next_isn(), next_isn());
  upstream_flow_->open(file_.now_us(), *this);
}

void CaptureConn::client_bytes(std::span<const uint8_t> bytes) {
  if (state_ != State::holding) return;
  const size_t room = kRequestLineLimit - request_line_.size();
  request_line_.append(reinterpret_cast<const char*>(bytes.data()), std::min(room, bytes.size()));
  const size_t eol = request_line_.find('\n');
  if (eol == std::string::npos) {
    if (request_line_.size() >= kRequestLineLimit) decide(false);
    return;
  }
  const std::string_view line(request_line_.data(), eol);
  decide(request_path(line).starts_with(file_.settings().path_prefix));
}

void CaptureConn::decide(bool capture) {
  state_ = capture ? State::capturing : State::skipped;
  if (capture) {
    for (const Held& h : held_) file_.packet(h.ts_us, h.ip);
  }
  held_.clear();
  held_.shrink_to_fit();
  held_bytes_ = 0;
  request_line_.clear();
  request_line_.shrink_to_fit();
}

void CaptureConn::packet(uint64_t ts_us, std::span<const uint8_t> ip) {
  switch (state_) {
    case State::capturing:
      file_.packet(ts_us, ip);
      return;
    case State::holding:
      held_.push_back({ts_us, {ip.begin(), ip.end()}});
      held_bytes_ += ip.size();
      if (held_bytes_ > kHoldLimit) decide(false);
      return;
    case State::skipped:
      return;
  }
}

void CaptureConn::maybe_flush() {
  if (state_ == State::capturing) file_.flush();
}

// ---- the tap ---------------------------------------------------------------------------

CaptureTap::CaptureTap(CaptureConn& conn, bool client_leg, TcpTransport& tcp, TransportHandler& up)
    : conn_(conn), client_leg_(client_leg), tcp_(tcp), up_(up) {}

TcpFlowSynth* CaptureTap::flow() {
  return client_leg_ ? &conn_.client_flow() : conn_.upstream_flow();
}

bool CaptureTap::write(std::span<const uint8_t> bytes, uint32_t mark) {
  if (TcpFlowSynth* f = flow(); f && !bytes.empty())
    f->data(!peer_is_flow_client(), bytes, conn_.now_us(), conn_);
  return inner_->write(bytes, mark);
}

void CaptureTap::shutdown(bool notify) {
  if (TcpFlowSynth* f = flow()) f->fin(!peer_is_flow_client(), conn_.now_us(), conn_);
  inner_->shutdown(notify);
}

void CaptureTap::close(bool reset) {
  if (TcpFlowSynth* f = flow()) {
    if (reset)
      f->reset(!peer_is_flow_client(), conn_.now_us(), conn_);
    else
      f->fin(!peer_is_flow_client(), conn_.now_us(), conn_);
  }
  inner_->close(reset);
}

void CaptureTap::on_connected(Transport&, int status) {
  if (!client_leg_ && status >= 0 && !conn_.upstream_flow()) {
    sockaddr_storage local{}, peer{};
    int ll = sizeof local, pl = sizeof peer;
    if (uv_tcp_getsockname(tcp_.tcp(), reinterpret_cast<sockaddr*>(&local), &ll) == 0 &&
        uv_tcp_getpeername(tcp_.tcp(), reinterpret_cast<sockaddr*>(&peer), &pl) == 0)
      conn_.open_upstream(ip_endpoint(reinterpret_cast<sockaddr*>(&local)),
                          ip_endpoint(reinterpret_cast<sockaddr*>(&peer)));
  }
  up_.on_connected(*this, status);
}

void CaptureTap::on_read(Transport&, std::span<const uint8_t> bytes) {
  if (client_leg_ && !conn_.decided()) conn_.client_bytes(bytes);
  if (TcpFlowSynth* f = flow()) f->data(peer_is_flow_client(), bytes, conn_.now_us(), conn_);
  up_.on_read(*this, bytes);
}

void CaptureTap::on_end(Transport&, StreamEnd how, int error) {
  if (TcpFlowSynth* f = flow()) {
    if (how == StreamEnd::fin)
      f->fin(peer_is_flow_client(), conn_.now_us(), conn_);
    else
      f->reset(peer_is_flow_client(), conn_.now_us(), conn_);
  }
  up_.on_end(*this, how, error);
}

void CaptureTap::on_closed(Transport&) {
  conn_.maybe_flush();
  up_.on_closed(*this);
}

}  // namespace wsi
