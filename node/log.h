// A minimal leveled logger for provd: one line per event on stderr,
// "2026-11-23T16:20:00.123Z level message". Thread-safe (one write per line).
#pragma once

#include <string_view>

namespace prov::node {

enum class LogLevel { kError = 0, kWarn = 1, kInfo = 2, kDebug = 3 };

void set_log_level(LogLevel level);
// Parses "error" | "warn" | "info" | "debug" (anything else: info).
LogLevel parse_log_level(std::string_view s);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, std::string_view message);

}  // namespace prov::node

#define PROV_LOG(level, expr)                                           \
  do {                                                                  \
    if (::prov::node::log_enabled(level)) {                             \
      std::ostringstream prov_log_stream_;                              \
      prov_log_stream_ << expr;                                         \
      ::prov::node::log_line(level, prov_log_stream_.str());            \
    }                                                                   \
  } while (0)
#define LOG_ERROR(expr) PROV_LOG(::prov::node::LogLevel::kError, expr)
#define LOG_WARN(expr) PROV_LOG(::prov::node::LogLevel::kWarn, expr)
#define LOG_INFO(expr) PROV_LOG(::prov::node::LogLevel::kInfo, expr)
#define LOG_DEBUG(expr) PROV_LOG(::prov::node::LogLevel::kDebug, expr)
