// The close-code knowledge base against the IANA registry and RFC 6455 §7.4.
#include "parser/close_codes.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace wsi {
namespace {

// RFC 6455 §7.4.1, §7.4.2, written out independently of the table: the codes a
// close frame may carry.
bool rfc_allows_on_wire(uint32_t code) {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;  // 1012-1014 registered later, accepted widely
  if (code >= 3000 && code <= 4999) return true;
  return false;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

struct Registered {
  uint16_t code;
  std::string_view name;
};

constexpr Registered kRegistry[] = {
    {1000, "Normal Closure"},
    {1001, "Going Away"},
    {1002, "Protocol Error"},
    {1003, "Unsupported Data"},
    {1004, "Reserved"},
    {1005, "No Status Received"},
    {1006, "Abnormal Closure"},
    {1007, "Invalid Frame Payload Data"},
    {1008, "Policy Violation"},
    {1009, "Message Too Big"},
    {1010, "Mandatory Extension"},
    {1011, "Internal Error"},
    {1012, "Service Restart"},
    {1013, "Try Again Later"},
    {1014, "Bad Gateway"},
    {1015, "TLS Handshake"},
    {3000, "Unauthorized"},
    {3003, "Forbidden"},
    {3008, "Timeout"},
};

TEST(CloseCodes, EveryCodeMapsToAnEntryThatContainsIt) {
  for (uint32_t code = 0; code <= 65535; ++code) {
    const CloseCodeInfo& info = close_code_info(code);
    ASSERT_LE(info.first, code) << code;
    ASSERT_GE(info.last, code) << code;
  }
}

TEST(CloseCodes, ValidityOnTheWireFollowsTheRfc) {
  for (uint32_t code = 0; code <= 65535; ++code) {
    ASSERT_EQ(close_code_valid_on_wire(code), rfc_allows_on_wire(code)) << code;
    ASSERT_EQ(close_code_info(code).allowed_on_wire, rfc_allows_on_wire(code)) << code;
  }
  EXPECT_FALSE(close_code_valid_on_wire(65536));
  EXPECT_FALSE(close_code_valid_on_wire(70000));
  EXPECT_FALSE(close_code_valid_on_wire(UINT32_MAX));
}

TEST(CloseCodes, RegisteredCodesHaveTheirOwnEntriesWithExactNames) {
  for (const Registered& r : kRegistry) {
    const CloseCodeInfo& info = close_code_info(r.code);
    EXPECT_EQ(info.first, r.code);
    EXPECT_EQ(info.last, r.code);
    EXPECT_TRUE(info.registered) << r.code;
    EXPECT_EQ(info.name, r.name) << r.code;
  }
}

TEST(CloseCodes, OnlyRegistryCodesAreRegistered) {
  size_t registered = 0;
  for (const CloseCodeInfo& info : all_close_codes()) {
    if (info.registered) {
      ++registered;
      EXPECT_EQ(info.first, info.last);
    } else {
      EXPECT_LT(info.first, info.last) << "unregistered entries are ranges";
    }
  }
  EXPECT_EQ(registered, std::size(kRegistry));
}

TEST(CloseCodes, RangesExplainUnregisteredCodes) {
  struct Expect {
    uint32_t code;
    uint16_t first, last;
  };
  for (Expect e :
       {Expect{0, 0, 999}, Expect{999, 0, 999}, Expect{1016, 1016, 2999}, Expect{2500, 1016, 2999},
        Expect{3001, 3000, 3999}, Expect{3999, 3000, 3999}, Expect{4000, 4000, 4999},
        Expect{4321, 4000, 4999}, Expect{5000, 5000, 65535}, Expect{65535, 5000, 65535}}) {
    const CloseCodeInfo& info = close_code_info(e.code);
    EXPECT_EQ(info.first, e.first) << e.code;
    EXPECT_EQ(info.last, e.last) << e.code;
    EXPECT_FALSE(info.registered) << e.code;
  }
  EXPECT_EQ(close_code_info(4321).name, "Private Use");
  EXPECT_TRUE(contains(close_code_info(4321).description, "private use"));
}

TEST(CloseCodes, EntriesAreOrderedAndComplete) {
  auto all = all_close_codes();
  ASSERT_FALSE(all.empty());
  for (size_t i = 0; i < all.size(); ++i) {
    const CloseCodeInfo& info = all[i];
    SCOPED_TRACE(std::string(info.name));
    if (i > 0) {
      EXPECT_LE(all[i - 1].first, info.first);
    }
    EXPECT_LE(info.first, info.last);
    EXPECT_FALSE(info.name.empty());
    // Several sentences each.
    EXPECT_GT(info.description.size(), 80u);
    EXPECT_GT(info.when.size(), 60u);
    EXPECT_GT(info.fix.size(), 80u);
    for (std::string_view text : {info.description, info.when, info.fix}) {
      EXPECT_TRUE(text.ends_with(".")) << text;
      EXPECT_FALSE(contains(text, "e.g.")) << "first sentences are cut at \". \"";
    }
  }
}

TEST(CloseCodes, SendersFollowTheRfc) {
  for (uint32_t code : {1004u, 1005u, 1006u, 1015u, 0u, 2000u, 5000u}) {
    EXPECT_EQ(close_code_info(code).sender, CodeSender::nobody) << code;
  }
  EXPECT_EQ(close_code_info(1010).sender, CodeSender::client);
  EXPECT_EQ(close_code_info(1000).sender, CodeSender::either);
  EXPECT_EQ(close_code_info(4500).sender, CodeSender::application);
  for (CodeSender s : {CodeSender::either, CodeSender::server, CodeSender::client,
                       CodeSender::application, CodeSender::nobody}) {
    EXPECT_FALSE(code_sender_name(s).empty());
  }
}

TEST(CloseCodes, LocallyReportedCodesReadWellOnBehalfOfAnEndpoint) {
  const CloseCodeInfo& none = close_code_info(1005);
  EXPECT_TRUE(contains(none.description, "no status code"));
  const CloseCodeInfo& abnormal = close_code_info(1006);
  EXPECT_TRUE(contains(abnormal.description, "without a close frame"));
  // The proxy appends the TCP-level cause it saw after this text.
  EXPECT_TRUE(abnormal.description.ends_with("."));
  EXPECT_TRUE(contains(abnormal.fix, "FIN"));
  EXPECT_TRUE(contains(abnormal.fix, "reset"));
}

TEST(CloseCodes, ProtocolErrorPointsAtIntermediariesAndTheViolationLog) {
  const CloseCodeInfo& info = close_code_info(1002);
  std::string all = std::string(info.when) + " " + std::string(info.fix);
  EXPECT_TRUE(contains(all, "intermediary"));
  EXPECT_TRUE(contains(all, "violation log"));
  EXPECT_TRUE(contains(all, "direction"));
}

TEST(CloseCodes, RetryableCodesAdviseBackOff) {
  for (uint32_t code : {1012u, 1013u, 1014u}) {
    EXPECT_TRUE(contains(close_code_info(code).fix, "back-off")) << code;
  }
}

TEST(CloseCodes, CodesAbove16BitsFallOutsideEveryRange) {
  const CloseCodeInfo& info = close_code_info(70000);
  EXPECT_FALSE(info.allowed_on_wire);
  EXPECT_EQ(info.last, 65535);
}

}  // namespace
}  // namespace wsi
