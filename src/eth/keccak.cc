#include "br2k/eth/keccak.h"

#include <cryptopp/keccak.h>

namespace br2k::eth {

Hash Keccak256(BytesView data) {
  CryptoPP::Keccak_256 k;
  k.Update(data.data(), data.size());
  Hash h;
  k.Final(h.data());
  return h;
}

Hash Keccak256(std::string_view text) {
  return Keccak256(BytesView(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}

}  // namespace br2k::eth
