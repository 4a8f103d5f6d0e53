/* Peak loop for AMX-INT8: tdpbusd on 4 independent accumulator tiles (16 x 16 x 64 MACs
 * each); compiled with the AMX flags, run only where the tier is supported. */
#include "bench/peak.h"
#include "core/cpu.h"
#include "isa/amx/amx_tiles.h"

double bench_peak_amx(long iterations)
{
    if (!qattn_cpu_request_amx())
        return 0.0;
    static int8_t a[16 * 64], b[16 * 64];
    static int32_t c[16 * 16];
    amx_configure();
    _tile_loadd(4, a, 64);
    _tile_loadd(5, a, 64);
    _tile_loadd(6, b, 64);
    _tile_loadd(7, b, 64);
    _tile_zero(0); /* (tile numbers are immediates: no loop) */
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    iterations /= 8; /* each trip is 4 x 16384 MACs, ~64 of the other loops' */
    double t = bench_now();
    for (long i = 0; i < iterations; i++) {
        _tile_dpbusd(0, 4, 6);
        _tile_dpbusd(1, 4, 7);
        _tile_dpbusd(2, 5, 6);
        _tile_dpbusd(3, 5, 7);
    }
    t = bench_now() - t;
    _tile_stored(0, c, 64);
    _tile_release();
    return (double)iterations * 4 * 16 * 16 * 64 / t;
}
