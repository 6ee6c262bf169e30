// `wsinspect ca init DIR`: the CA for forward-mode interception.
#include <ostream>

#include "proxy/commands.h"
#include "proxy/net/cert_authority.h"

namespace wsi {

int run_ca_init(const std::string& dir, std::ostream& out, std::ostream& err) {
  std::string error;
  if (!create_ca(dir, error)) {
    err << "wsinspect ca init: " << error << '\n';
    return 1;
  }
  out << trust_instructions(dir);
  return 0;
}

}  // namespace wsi
