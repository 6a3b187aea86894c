// Fuzzes the signed-note parser, signature checking and vkey parsing.
// Property: whatever parses re-formats to exactly the input (the parser
// accepts only canonical notes), and nothing crashes.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "crypto/note.h"

using namespace prov::crypto::note;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // The example key of golang.org/x/mod/sumdb/note, so that inputs derived
  // from its example note reach signature verification.
  static const std::vector<NoteVerifier> known{
      NoteVerifier::parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").value()};

  auto note = parse_note(input);
  if (note) {
    auto again = format_note(*note);
    if (!again || *again != input) std::abort();
    (void)verify_note(*note, known);
  }
  auto vkey = NoteVerifier::parse(input);
  if (vkey && vkey->vkey() != input) std::abort();
  return 0;
}
