// conn_seed VECTOR_DIR OUT_DIR: the seed corpus of fuzz_connection. Writes
// every connection vector (VECTOR_DIR/*.txt, read with parse_conn_script) in
// the fuzzer's input format (conn_input.h), once as is and once with the
// tight limits, plus a few connections that start with the built-in upgrade
// prefix. Run at every build, so vectors added later are seeds too; a vector
// that does not parse is skipped with a warning (the vector tests report it).
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/conn_input.h"

namespace {

namespace fs = std::filesystem;
using wsi::ConnScript;
using wsi::ConnStep;
using wsi::Direction;
namespace opt = wsi::fuzz::opt;

constexpr uint8_t kTight = opt::size_limit | opt::few_reports | opt::small_hold | opt::preview;

bool write_seed(const fs::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  return static_cast<bool>(out);
}

// A frame as its sender puts it on the wire: clients mask (fixed key).
std::vector<uint8_t> frame(Direction from, uint8_t b0, std::vector<uint8_t> payload) {
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  const bool masked = from == Direction::client_to_server;
  std::vector<uint8_t> f{b0, static_cast<uint8_t>((masked ? 0x80 : 0) | payload.size())};
  if (masked) f.insert(f.end(), mask, mask + 4);
  for (size_t i = 0; i < payload.size(); ++i) f.push_back(payload[i] ^ (masked ? mask[i & 3] : 0));
  return f;
}

void add(ConnScript& s, Direction d, std::vector<uint8_t> bytes) {
  ConnStep st;
  st.dir = d;
  st.bytes = std::move(bytes);
  s.steps.push_back(std::move(st));
}

// After the prefix: a message each way and the close handshake.
ConnScript echo(bool compressed) {
  const std::vector<uint8_t> hello{'H', 'e', 'l', 'l', 'o'};
  const std::vector<uint8_t> deflated{0xf2, 0x48, 0xcd, 0xc9,
                                      0xc9, 0x07, 0x00};  // RFC 7692 §7.2.3.1
  const uint8_t b0 = compressed ? 0xc1 : 0x81;
  ConnScript s;
  for (Direction d : {Direction::client_to_server, Direction::server_to_client})
    add(s, d, frame(d, b0, compressed ? deflated : hello));
  ConnStep t;
  t.kind = ConnStep::Kind::time;
  t.ms = 5;
  s.steps.push_back(t);
  for (Direction d : {Direction::client_to_server, Direction::server_to_client})
    add(s, d, frame(d, 0x88, {0x03, 0xe8}));
  for (Direction d : {Direction::client_to_server, Direction::server_to_client}) {
    ConnStep fin;
    fin.kind = ConnStep::Kind::fin;
    fin.dir = d;
    s.steps.push_back(fin);
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: conn_seed VECTOR_DIR OUT_DIR\n");
    return 2;
  }
  const fs::path vectors = argv[1];
  const fs::path out = argv[2];
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) {
    std::fprintf(stderr, "conn_seed: cannot create %s: %s\n", out.c_str(), ec.message().c_str());
    return 1;
  }
  size_t written = 0;
  bool ok = true;
  auto emit = [&](const std::string& name, const std::vector<uint8_t>& bytes) {
    if (write_seed(out / name, bytes)) {
      ++written;
    } else {
      std::fprintf(stderr, "conn_seed: cannot write %s\n", (out / name).c_str());
      ok = false;
    }
  };

  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(vectors, ec))
    if (e.is_regular_file() && e.path().extension() == ".txt") files.push_back(e.path());
  if (ec) std::fprintf(stderr, "conn_seed: %s: %s\n", vectors.c_str(), ec.message().c_str());
  std::sort(files.begin(), files.end());
  for (const fs::path& p : files) {
    std::ifstream in(p, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ConnScript script;
    std::string error;
    if (!wsi::parse_conn_script(text, script, error)) {
      std::fprintf(stderr, "conn_seed: skipping %s: %s\n", p.c_str(), error.c_str());
      continue;
    }
    const std::string stem = p.stem().string();
    const auto cut = static_cast<uint8_t>(std::hash<std::string>{}(stem));
    emit(stem, wsi::fuzz::encode_conn_input(script, 0, cut));
    emit(stem + "-tight", wsi::fuzz::encode_conn_input(script, kTight, cut));
  }

  emit("prefix-echo", wsi::fuzz::encode_conn_input(echo(false), opt::prefix, 7));
  emit("prefix-deflate-echo",
       wsi::fuzz::encode_conn_input(echo(true), opt::prefix | opt::deflate, 11));
  emit("prefix-deflate-params-echo",
       wsi::fuzz::encode_conn_input(echo(true), opt::prefix | opt::deflate | opt::deflate_params,
                                    13));
  std::printf("conn_seed: %zu seeds from %zu vectors in %s\n", written, files.size(), out.c_str());
  return ok ? 0 : 1;
}
