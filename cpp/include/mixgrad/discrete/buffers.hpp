// Working arrays of one chunk of events (noise, relaxations, objective values and gradients).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
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

}  // namespace mixgrad::rebar
