#include "parser/conn/events.h"

namespace wsi {

std::string_view end_cause_id(EndCause c) {
  switch (c) {
    case EndCause::none:
      return "none";
    case EndCause::close_handshake:
      return "close_handshake";
    case EndCause::client_fin:
      return "client_fin";
    case EndCause::server_fin:
      return "server_fin";
    case EndCause::client_reset:
      return "client_reset";
    case EndCause::server_reset:
      return "server_reset";
    case EndCause::idle_timeout:
      return "idle_timeout";
    case EndCause::handshake_timeout:
      return "handshake_timeout";
    case EndCause::proxy_shutdown:
      return "proxy_shutdown";
    case EndCause::upstream_unreachable:
      return "upstream_unreachable";
    case EndCause::tls_handshake_failed:
      return "tls_handshake_failed";
    case EndCause::http_inactivity:
      return "http_inactivity";
    case EndCause::capture_ended:
      return "capture_ended";
    case EndCause::forward_refused:
      return "forward_refused";
  }
  return "none";
}

}  // namespace wsi
