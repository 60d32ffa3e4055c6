"""Which OpenBLAS kernels the face workers ask for (services/identity/blas_cores.py): pure, flags and names in."""

from services.identity.blas_cores import better_kernels, cpu_flags

AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
AVX512 = AVX2 | {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"}


def test_a_cpu_openblas_fell_back_on_gets_the_widest_kernels_it_runs():
    assert better_kernels("Prescott", AVX512) == "SkylakeX"
    assert better_kernels("Prescott", AVX2) == "Haswell"


def test_a_cpu_without_avx2_and_fma_keeps_the_fallback():
    assert better_kernels("Prescott", frozenset({"sse4_2", "avx"})) == ""
    assert better_kernels("Prescott", frozenset({"avx2"})) == ""


def test_openblas_s_own_choice_for_a_cpu_it_knows_is_kept():
    for known in ("Haswell", "SkylakeX", "Zen", "SapphireRapids", "Cooperlake"):
        assert better_kernels(known, AVX512) == ""
    assert better_kernels("", AVX512) == ""  # no OpenBLAS to ask


def test_cpu_flags_are_read_from_the_first_flags_line_and_none_from_a_missing_file(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t\t: fpu sse avx2 fma\n"
                    "processor\t: 1\nflags\t\t: fpu\n", encoding="ascii")
    assert cpu_flags(info) == {"fpu", "sse", "avx2", "fma"}
    assert cpu_flags(tmp_path / "none") == frozenset()
