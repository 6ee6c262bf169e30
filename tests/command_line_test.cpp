// parse_command_line: the whole wsinspect command line, parsed without
// running anything.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <vector>

#include "proxy/command_line.h"

namespace wsi {
namespace {

struct Parsed {
  ParsedCommandLine result;
  std::string out;
  std::string err;
  std::vector<std::string> configs_read;
};

Parsed parse(const std::vector<std::string>& words) {
  std::vector<const char*> argv{"wsinspect"};
  for (const std::string& w : words) argv.push_back(w.c_str());
  Parsed p;
  std::ostringstream out;
  std::ostringstream err;
  p.result = parse_command_line(
      argv, out, err, [&p](const std::string& path, ProxyConfig& cfg, std::string& error) {
        p.configs_read.push_back(path);
        return load_config_string("upstream = \"file.example:9\"\n", path, cfg, error);
      });
  p.out = out.str();
  p.err = err.str();
  return p;
}

TEST(CommandLine, EmptyValueAfterEqualsIsEmptyNotTheNextWord) {
  const Parsed p =
      parse({"proxy", "--upstream", "a:1", "--log-file=", "--show-secrets", "--upstream-ca="});
  ASSERT_TRUE(p.result.command) << p.err;
  EXPECT_EQ(p.result.command->proxy.log_file, "");
  EXPECT_TRUE(p.result.command->proxy.log_secrets);
  EXPECT_EQ(p.result.command->proxy.upstream_ca, "");

  // A flag keeps CLI11's reading of "--x=" (a bare flag), and a value after
  // "--" is a word.
  const Parsed flag = parse({"proxy", "--upstream", "a:1", "--show-secrets=", "--no-inspect"});
  ASSERT_TRUE(flag.result.command) << flag.err;
  EXPECT_TRUE(flag.result.command->proxy.log_secrets);
  EXPECT_FALSE(flag.result.command->proxy.inspect);
  const Parsed positional = parse({"decode", "--connection", "--", "--json="});
  ASSERT_TRUE(positional.result.command) << positional.err;
  EXPECT_EQ(positional.result.command->decode.input, "--json=");
}

TEST(CommandLine, ConfigGoesThroughTheLoaderAndFlagsOverrideIt) {
  const Parsed p = parse({"proxy", "--config", "x.toml", "--listen", "127.0.0.1:0"});
  ASSERT_TRUE(p.result.command) << p.err;
  EXPECT_EQ(p.configs_read, std::vector<std::string>{"x.toml"});
  EXPECT_EQ(p.result.command->kind, Command::Kind::proxy);
  EXPECT_EQ(p.result.command->proxy.upstream, "file.example:9");
  EXPECT_EQ(p.result.command->proxy.listen, "127.0.0.1:0");
}

TEST(CommandLine, HelpVersionAndErrorsEndTheParse) {
  const Parsed help = parse({"proxy", "--help"});
  EXPECT_FALSE(help.result.command);
  EXPECT_EQ(help.result.exit_status, 0);
  EXPECT_NE(help.out.find("--upstream"), std::string::npos);
  const Parsed version = parse({"--version"});
  EXPECT_EQ(version.result.exit_status, 0);
  EXPECT_NE(version.out.find("wsinspect "), std::string::npos);
  const Parsed bad = parse({"proxy", "--listen", "127.0.0.1:0"});
  EXPECT_FALSE(bad.result.command);
  EXPECT_EQ(bad.result.exit_status, 2);
  EXPECT_EQ(bad.err.rfind("wsinspect proxy: ", 0), 0u) << bad.err;
  EXPECT_EQ(parse({}).result.exit_status, 2);
}

TEST(CommandLine, EachSubcommand) {
  const Parsed decode = parse({"decode", "--sender", "server", "--permessage-deflate", "f.hex"});
  ASSERT_TRUE(decode.result.command) << decode.err;
  EXPECT_EQ(decode.result.command->kind, Command::Kind::decode);
  EXPECT_TRUE(decode.result.command->decode.permessage_deflate);
  EXPECT_EQ(decode.result.command->decode.permessage_deflate_params, "");
  EXPECT_EQ(decode.result.command->decode.input, "f.hex");
  const Parsed explain = parse({"explain", "1002", "1006"});
  ASSERT_TRUE(explain.result.command);
  EXPECT_EQ(explain.result.command->codes, (std::vector<std::string>{"1002", "1006"}));
  const Parsed ca = parse({"ca", "init", "dir"});
  ASSERT_TRUE(ca.result.command);
  EXPECT_EQ(ca.result.command->kind, Command::Kind::ca_init);
  EXPECT_EQ(ca.result.command->ca_dir, "dir");
  const Parsed demo = parse({"demo", "--log-format", "json"});
  ASSERT_TRUE(demo.result.command);
  EXPECT_EQ(demo.result.command->proxy.log_format, LogFormat::json);
}

TEST(CommandLine, AnUnknownSubcommandIsNamed) {
  const Parsed p = parse({"prox", "--upstream", "a:1"});
  EXPECT_FALSE(p.result.command);
  EXPECT_EQ(p.result.exit_status, 2);
  EXPECT_NE(p.err.find("unknown subcommand 'prox'"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("proxy, demo, decode, compare"), std::string::npos) << p.err;
  // Control characters in the word are shown escaped.
  const Parsed c = parse({"x\x1b[2J"});
  EXPECT_NE(c.err.find("'x\\x1B[2J'"), std::string::npos) << c.err;
  const Parsed none = parse({});
  EXPECT_EQ(none.result.exit_status, 2);
  EXPECT_NE(none.err.find("a subcommand is needed"), std::string::npos) << none.err;
}

TEST(CommandLine, HelpSubcommand) {
  const Parsed all = parse({"help"});
  EXPECT_EQ(all.result.exit_status, 0);
  EXPECT_NE(all.out.find("Subcommands:"), std::string::npos) << all.out;
  const Parsed one = parse({"help", "compare"});
  EXPECT_EQ(one.result.exit_status, 0);
  EXPECT_NE(one.out.find("--digest-key-file"), std::string::npos) << one.out;
  const Parsed bad = parse({"help", "nope"});
  EXPECT_EQ(bad.result.exit_status, 2);
  EXPECT_NE(bad.err.find("no subcommand 'nope'"), std::string::npos) << bad.err;
}

TEST(CommandLine, ShortFlagsAndJson) {
  const Parsed p = parse({"proxy", "-u", "a:1", "-l", "127.0.0.1:9", "-q", "--json"});
  ASSERT_TRUE(p.result.command) << p.err;
  EXPECT_EQ(p.result.command->proxy.upstream, "a:1");
  EXPECT_EQ(p.result.command->proxy.listen, "127.0.0.1:9");
  EXPECT_EQ(p.result.command->proxy.log_level, LogLevel::warn);
  EXPECT_EQ(p.result.command->proxy.log_format, LogFormat::json);
  const Parsed v = parse({"proxy", "-u", "a:1", "-v"});
  ASSERT_TRUE(v.result.command) << v.err;
  EXPECT_EQ(v.result.command->proxy.log_level, LogLevel::debug);
  // The long form given beside wins.
  const Parsed both =
      parse({"proxy", "-u", "a:1", "-q", "--log-level", "info", "--json", "--log-format", "text"});
  ASSERT_TRUE(both.result.command) << both.err;
  EXPECT_EQ(both.result.command->proxy.log_level, LogLevel::info);
  EXPECT_EQ(both.result.command->proxy.log_format, LogFormat::text);
  const Parsed clash = parse({"proxy", "-u", "a:1", "-q", "-v"});
  EXPECT_EQ(clash.result.exit_status, 2);
  EXPECT_NE(clash.err.find("exclude each other"), std::string::npos) << clash.err;
  // Every subcommand takes both output flags.
  for (const char* sub : {"decode", "rules", "compare"}) {
    std::vector<std::string> w{sub, "--log-format", "json"};
    if (std::string_view(sub) == "compare") w = {sub, "a", "b", "--log-format", "json"};
    const Parsed j = parse(w);
    ASSERT_TRUE(j.result.command) << sub << ": " << j.err;
  }
  EXPECT_TRUE(parse({"decode", "--log-format", "json"}).result.command->decode.json);
  EXPECT_TRUE(parse({"rules", "--log-format", "json"}).result.command->rules_json);
  EXPECT_TRUE(parse({"compare", "a", "b", "--json"}).result.command->compare.json);
}

}  // namespace
}  // namespace wsi
