mod rows;
mod sample;

fn main() {}
