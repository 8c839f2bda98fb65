// Working arrays of one chunk of events (noise, relaxations, objective values and gradients).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace mixgrad::rebar {

// Working arrays of one chunk of events (each event = E coordinates, j = ev * E + e).
struct Buffers {
  std::vector<std::uint32_t> row, coord;
  std::vector<std::uint64_t> sample, sample_j;
  std::vector<std::uint32_t> ev_j;
  std::vector<double> alpha, la, lb, th, aux, ea, ena;
  std::vector<double> z, hard, zt, dzt, score, sz, jz, szt, jzt, w;  // per j
  std::vector<double> gz, gzt, pz, pzt, g;                           // per j
  std::vector<double> fb, fzt, wev, cz, czt;                         // per event
  std::vector<double> F, zb, ifb, isb, ith, ez, ezt, L;              // per j (categorical)
  std::vector<double> lfb;                                           // per event (categorical)
  void reserve(std::size_t nj, std::size_t nev) {
    for (auto* v : {&row, &coord, &ev_j}) v->resize(std::max(nj, nev));
    for (auto* v : {&sample, &sample_j}) v->resize(std::max(nj, nev));
    for (auto* v : {&alpha, &la, &lb, &th,  &aux, &ea, &ena, &z,   &hard, &zt,  &dzt,
                    &score, &sz, &jz, &szt, &jzt, &w,  &gz,  &gzt, &pz,   &pzt, &g})
      v->resize(nj);
    for (auto* v : {&F, &zb, &ifb, &isb, &ith, &ez, &ezt, &L}) v->resize(nj);
    for (auto* v : {&fb, &fzt, &wev, &cz, &czt, &lfb}) v->resize(nev);
  }
};

// The working arrays of the tiles one thread runs: the chunk buffers and a tile's moment
// accumulators (cmean, cm2: merge_chunk's scratch; lmean, lm2: the tile's running moments).
struct TileScratch {
  Buffers B;
  std::vector<double> cmean, cm2, lmean, lm2;
  bool in_use = false;
  // Chunks of up to nj coordinates (events) and tiles of tile_coords.
  void reserve(std::size_t nj, std::size_t tile_coords) {
    B.reserve(nj, nj);
    for (auto* v : {&cmean, &cm2, &lmean, &lm2}) v->resize(tile_coords);
  }
};

// This thread's TileScratch, lent to one caller at a time and kept for the next (a set made and
// zero-filled per tile, ~90 KB, made REBAR at B = 500 x D = 200 21% slower). A caller gets a set
// of its own instead when it asks for no reuse (arrays too large to keep for the thread's life)
// or while this thread's is lent (a nested call; none today: the interrupt check, which may run
// Python signal handlers, is called between blocks, after their lease has ended). A caller
// writes every element it reads: a kept set holds the last caller's values.
class TileScratchLease {
 public:
  explicit TileScratchLease(bool reuse) {
    thread_local TileScratch kept;
    if (reuse && !kept.in_use) {
      s_ = &kept;
    } else {
      own_ = std::make_unique<TileScratch>();
      s_ = own_.get();
    }
    s_->in_use = true;
  }
  ~TileScratchLease() { s_->in_use = false; }
  TileScratchLease(const TileScratchLease&) = delete;
  TileScratchLease& operator=(const TileScratchLease&) = delete;
  TileScratch& get() const { return *s_; }

 private:
  std::unique_ptr<TileScratch> own_;
  TileScratch* s_ = nullptr;
};

}  // namespace mixgrad::rebar
