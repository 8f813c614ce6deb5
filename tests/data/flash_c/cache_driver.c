/* cache_driver.c - drives flash_offload/dense/c/ek_fo_cache.c from stdin for tests/test_flash_c.py,
 * which replays the same steps on window_cache.WindowCache and compares every row.
 *   stdin:  "f cap" then per step "t k n id_1 .. id_n" (ids ascending)
 *   stdout: per step "dropped n_need need_1 .. | used row_neuron_0 .." */
#include <stdio.h>
#include <stdlib.h>

#include "ek_fo_cache.h"

int main(void)
{
    int f, cap, t, k, n;
    if (scanf("%d %d", &f, &cap) != 2)
        return 2;
    ek_fo_cache c;
    int32_t *want = malloc(sizeof(int32_t) * (size_t)f), *need = malloc(sizeof(int32_t) * (size_t)f);
    if (!want || !need || ek_fo_cache_alloc(&c, cap, f, 4) != 0)
        return 2;
    while (scanf("%d %d %d", &t, &k, &n) == 3) {
        for (int i = 0; i < n; i++)
            if (scanf("%d", &want[i]) != 1)
                return 2;
        int n_need, evicted;
        int dropped = ek_fo_cache_admit(&c, want, n, t, k, need, &n_need, &evicted);
        if (ek_fo_cache_check(&c) != 0)
            return 3;
        printf("%d %d", dropped, n_need);
        for (int i = 0; i < n_need; i++)
            printf(" %d", need[i]);
        printf(" | %d", c.used);
        for (int r = 0; r < c.used; r++)
            printf(" %d", c.row_neuron[r]);
        printf("\n");
    }
    ek_fo_cache_free(&c);
    free(want);
    free(need);
    return 0;
}
