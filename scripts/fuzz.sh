#!/usr/bin/env bash
# Fuzzes the CSV and NDJSON readers with libFuzzer (clang, ASan + UBSan), FUZZ_SECONDS each.
# Each target also checks that chunking never changes the rows read (see tests/fuzz/).
#   scripts/fuzz.sh                 # 120 s per target
#   FUZZ_SECONDS=600 scripts/fuzz.sh
# Corpus and crash artifacts stay under build-fuzz/ (fuzz-corpus/<target>, fuzz-artifacts/).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-120}
build=build-fuzz

CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCARDSYNC_FUZZ=ON -DCARDSYNC_TESTS=ON -DCARDSYNC_BENCH=OFF >/dev/null
cmake --build "$build" -j2 --target csv_reader_fuzz ndjson_reader_fuzz

# A seed is one chunk-size byte followed by the input.
seed() {  # seed <dir> <name> <chunk byte as \ooo> <text>
    printf "$3%s" "$4" >"$1/$2"
}

mkdir -p "$build/fuzz-artifacts"
for format in csv ndjson; do
    corpus="$build/fuzz-corpus/$format"
    mkdir -p "$corpus"
    { printf '\003'; cat "samples/contacts.$format"; } >"$corpus/sample"
    if [[ $format == csv ]]; then
        seed "$corpus" basic '\001' $'phone_number,first_name,last_name,image_url\n+15550001,Ann,Lee,https://x/a.jpg\n'
        seed "$corpus" quoted '\002' $'\xEF\xBB\xBFPhone_Number , x\r\n"+1","a ""b"", c\r\nd"\r\n\r\n+2,"unclosed\n+3,ok\n'
        seed "$corpus" stray '\005' $'first_name,phone_number\nO"Neil,+1\n"A"x,+2\n,,\n+4'
        dict=('"\x22"' '"\x22\x22"' '","' '"\x0d\x0a"' '"phone_number"' '"first_name"' '"last_name"'
              '"image_url"' '"\xef\xbb\xbf"' '"\x00"')
    else
        seed "$corpus" basic '\001' $'{"phone_number":"+15550001","first_name":"Ann","image_url":null}\n'
        seed "$corpus" types '\002' $'{"phone_number":5,"first_name":"\\u00e9\\ud83d\\ude80","x":[1,{"y":null}]}\r\n\n[1]\n{"last_name":"a","last_name":"b"} x\n{"phone_number":"+1"'
        dict=('"{"' '"}"' '"\x22phone_number\x22:"' '"\x22first_name\x22:"' '"\x22last_name\x22:"'
              '"\x22image_url\x22:"' '"null"' '"true"' '"\x5cu00e9"' '"\x5cud83d\x5cude80"' '"\x0d\x0a"')
    fi
    printf '%s\n' "${dict[@]}" >"$build/fuzz-$format.dict"  # libFuzzer syntax: "\xNN" escapes
    echo "== ${format}_reader_fuzz for ${seconds}s"
    "$build/tests/${format}_reader_fuzz" -max_len=4096 -max_total_time="$seconds" -print_final_stats=1 \
        -dict="$build/fuzz-$format.dict" -artifact_prefix="$build/fuzz-artifacts/${format}-" "$corpus"
done
