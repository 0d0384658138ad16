# bench/plot.gp: throughput against size per contender, from the bench's CSV.
#   gnuplot -e "csv='bench/results.csv'; out='bench/plot.png'; contenders='da realloc'" bench/plot.gp
# Points are medians; error bars span the fastest and slowest run.
set terminal pngcairo size 1400,1000 font ",10"
set output out
set datafile separator ","
set datafile missing NaN  # rows of other contenders: skipped without breaking the line
set logscale xy 2
set format x "%.0b%B"
set xtics 4
set grid
set key top left font ",9"
set xlabel "vector size (bytes)"
bytes(w, c) = (strcol(1) eq w && strcol(3) eq c && $4 > 0) ? $2 : NaN
gbps(t) = $8 * 8 / t / 1e9
nsop(t) = t * 1e9 / $8
set multiplot layout 2,2 title "diskalloc bench: medians of interleaved runs (" . csv . ")"
do for [w in "push extend read"] {
    set title w . ": GB/s (higher is better)"
    set ylabel "GB/s"
    plot for [c in contenders] csv using (bytes(w, c)):(gbps($5)):(gbps($7)):(gbps($6)) \
        with yerrorlines title c
}
set title "rread: ns per random read (lower is better)"
set ylabel "ns per read"
plot for [c in contenders] csv using (bytes("rread", c)):(nsop($5)):(nsop($6)):(nsop($7)) \
    with yerrorlines title c
unset multiplot
