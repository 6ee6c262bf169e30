// `wsinspect ca init DIR`: the CA for forward-mode interception.
#include <ostream>

#include "proxy/commands.h"
#include "proxy/event_format.h"
#include "proxy/net/cert_authority.h"
#include "proxy/report/json_writer.h"

namespace wsi {

int run_ca_init(const std::string& dir, bool json, std::ostream& out, std::ostream& err) {
  std::string error;
  if (!create_ca(dir, error)) {
    err << "wsinspect ca init: " << error << '\n';
    return 1;
  }
  if (!json) {
    out << trust_instructions(dir);
    return 0;
  }
  out << json_object([&](JsonWriter& w) {
    w.field("event", "ca_created")
        .field("dir", escape_text(dir))
        .field("certificate", escape_text(dir + "/ca.pem"))
        .field("key", escape_text(dir + "/ca.key"))
        .field("proxy_command", "wsinspect proxy --forward --ca " + escape_text(dir));
  }) << '\n';
  return 0;
}

}  // namespace wsi
