"""Rebuild the clip-art part of demo/corpus from Debian's openclipart-png package (public domain).

    apt-get download openclipart-png && dpkg-deb -x openclipart-png_*.deb pkg
    python demo/add_openclipart.py pkg/usr/share/openclipart/png demo/corpus

Each chosen picture is composited on white (the originals are transparent), scaled so its longer
side is at most 256 px, and saved as PNG under ``demo/corpus/<label>/``. SOURCES.md lists them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

# label -> (folder of the package, the files chosen from it): colour drawings of one kind of thing each.
CHOICE = {
    "aircraft": ("transportation/vehicles", [
        "aircraft_jarno_vasamaa1", "aircraft_jarno_vasamaa3", "aircraft_jarno_vasamaa4",
        "aircraft_jarno_vasamaa2", "aircraft_jarno_vasamaa_"]),
    "bird": ("animals/birds", [
        "pollo_architetto_frances_01", "cigno_di_spalle_architet_01", "gallo_di_profilo_archite_01",
        "gufo_civetta_architetto__01", "gabbiano_architetto_fran_01", "simbolo_egizio_architett_01",
        "flamand_jean-victor_bali_01", "cigno_architetto_frances_01", "manager_mimooh_01", "puffin-md",
        "ralf_ark.in-berlin.de_ra_01", "bird_of_peace_mauro_oliv_01"]),
    "cake": ("food/desserts", [
        "birthday_cake", "torta_architetto_frances_01", "cake_jarno_vasamaa_r", "cake1_jarno_vasamaa_01",
        "pink_cake_gabrielle_now_r", "flat_cake_jean-victor_ba_01"]),
    "clock": ("signs_and_symbols/clocks", [
        "analog_clock_jonathan_di_01", "clock04", "analogue_clock_01", "alarm_clock_gerald_g._02",
        "modern_clock_chris_kemps_01", "orologio_da_parete_archi_01", "alarm_clock_mike_powers_",
        "clock_michael_breuer_01", "clock_michael_breuer_02"]),
    "computer": ("computer/hardware", [
        "computer_keyboard_01", "computer-aj_aj_ashton_01", "lcd", "gnome-fs-client", "laptop",
        "lcd_monitor_the_structor_", "laptop_02", "flat_screen_gino_rivera_01", "printer_nicu_buculei_01",
        "monitor", "schermo_macintosh_archit_01", "computer2"]),
    "drink": ("food/beverages", [
        "zielony_kubek_herbaty_-_01", "teacup_ganson", "kubek_herbaty_-_mug_of__01", "bottled_drink",
        "orange_juice_box", "coffee_ganson", "lattine_di_birra_archite_01", "lemonade",
        "tazza_di_caffe_architett_01", "soft_drink", "pop_can", "mug"]),
    "flower": ("plants/flowers", [
        "sun_flower_ganson", "flowers_jonathan_dietric_01", "geranium_ganson", "sakura_dave_pena_01",
        "pink-rose_tess_brady_01", "tulips_ganson", "daffodil_jonathan_dietri_01", "flower1_juliane_krug_01",
        "funnyflower_02", "magnolia-white_patricia__01", "daisy_jonathan_dietrich_01", "flower_02"]),
    "house": ("buildings/homes", [
        "casa_plurifamigliare_arc_01", "house_christoph_brill_01", "home1", "casa_verde_architetto_fr_01",
        "house_juliane_krug_01", "home3", "house_gabrielle_nowicki_", "home6", "casa_dei_sogni_architett_01",
        "home12", "home9", "home4"]),
    "ice_cream": ("food/desserts", [
        "cone_alt4", "gelato_all_39_italiana_a_01", "cone4_ganson", "cone_alt3", "cone3_ganson", "cone_alt_2",
        "cone2_ganson", "cone_soft_chocolate", "cone1_ganson"]),
    "light_bulb": ("electronics/bulb", [
        "lightbulb_lit_benji_park_", "bulb", "lightbulb_brightlit_benj_", "lightbulb_notlit_benji_p_",
        "lightbulb_jon_phillips_04", "lightbulb_jon_phillips_01"]),
    "mammal": ("animals/mammals", [
        "stylized_wolf_head_geral_01", "elefante01_architetto_fr_01", "sheep-md-v0.1",
        "dog_on_leash_gerald_g._02", "angry_monkey_benji_park_01", "monkey_head_nicu_buculei_01",
        "canguro_architetto_franc_01", "goat_nicu_buculei_01", "antilope_architetto_fran_01",
        "dog_05_drawn_with_strai_02", "camel_head_01", "stambecco_valdostano_arc_01"]),
    "roadsign": ("transportation/roadsigns", [
        "stop-sign-angled_01", "warning..._cedric_bosdon_", "kaboom", "chaussee_glissante_arago_01",
        "chauss_e_particuli_reme_01", "queues", "advertising_yves_guillo_r", "cycles", "pass_either",
        "no_cycles", "keep_left", "turn_ahead"]),
    "teddy_bear": ("recreation/toys", [
        "simple_teddy_bear_with__01", "stylized_teddy_bear_wit_02", "stylized_teddy_bear_wit_01",
        "simple_teddy_bear_gerald_01", "stylized_teddy_bear_gera_01", "teddybear_jarno_vasamaa_"]),
    "vehicle": ("transportation/vehicles", [
        "road_runner_ganson", "trattore_architetto_fran_01", "hummer_07", "blazer_01", "hummer_05",
        "ambulans_romus_01", "bus2_jarno_vasamaa_01", "bus1_jarno_vasamaa_01", "4wd", "car"]),
}


def convert(source: Path, target: Path) -> None:
    with Image.open(source) as image:
        image = image.convert("RGBA")
    white = Image.new("RGBA", image.size, (255, 255, 255, 255))
    white.alpha_composite(image)
    picture = white.convert("RGB")
    picture.thumbnail((256, 256), Image.Resampling.LANCZOS)
    target.parent.mkdir(parents=True, exist_ok=True)
    picture.save(target, optimize=True)


def main(argv: list[str]) -> int:
    root, corpus = Path(argv[0]), Path(argv[1])
    for label, (folder, names) in CHOICE.items():
        for name in names:
            convert(root / folder / f"{name}.png", corpus / label / f"{name}.png")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
